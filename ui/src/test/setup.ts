// Testing Library waits up to 1 s by default for what a test expects to appear; a 2-core CI machine
// under a parallel cargo build can take longer to run React's effects. Waiting longer changes no
// assertion: a test still fails when the thing never appears.
import { configure } from "@testing-library/react";

configure({ asyncUtilTimeout: 5000 });
