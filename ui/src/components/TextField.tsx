import type { InputHTMLAttributes } from "react";

type Props = Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> & {
  label: string;
  value: string;
  onChange: (value: string) => void;
  testId?: string;
};

/** A labelled text input, the one form field of the app (sign-in, settings). */
export function TextField({ label, value, onChange, testId, ...input }: Props) {
  return (
    <label className="field">
      <span>{label}</span>
      <input
        className="input"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        data-testid={testId}
        {...input}
      />
    </label>
  );
}
