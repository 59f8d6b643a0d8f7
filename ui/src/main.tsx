import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { api } from "./ipc";
import { startupMark } from "./startup";
import "@fontsource-variable/inter";
import "./styles.css";

startupMark("script");

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");

createRoot(root).render(
  <StrictMode>
    <ErrorBoundary>
      <App api={api} />
    </ErrorBoundary>
  </StrictMode>,
);
