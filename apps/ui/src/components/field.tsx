import type { ComponentChildren } from 'preact';

interface InputProps {
  label: ComponentChildren;
  name: string;
  value: string;
  /** Called on every keystroke, or with `commit` only when the field is left or Enter is pressed. */
  onValue: (value: string) => void;
  commit?: boolean;
  /** A date and time picker instead of text. */
  dateTime?: boolean;
  size?: number;
  placeholder?: string;
}

/** A labelled text input. */
export function Field({ label, name, value, onValue, commit, dateTime, size, placeholder }: InputProps) {
  const handler = (event: Event) => onValue((event.target as HTMLInputElement).value);
  const picker = dateTime ? { type: 'datetime-local' as const } : {};
  return (
    <label>
      {label}{' '}
      <input
        {...picker}
        name={name}
        size={size}
        placeholder={placeholder}
        value={value}
        onInput={commit ? undefined : handler}
        onChange={commit ? handler : undefined}
      />
    </label>
  );
}

/** One choice of a Select: its value and what it shows (the value itself when absent). */
export type Choice = string | { value: string; label: string; disabled?: boolean };

interface SelectProps {
  label: ComponentChildren;
  name: string;
  value: string;
  choices: readonly Choice[];
  onValue: (value: string) => void;
}

/** A labelled drop-down. */
export function Select({ label, name, value, choices, onValue }: SelectProps) {
  return (
    <label>
      {label}{' '}
      <select name={name} value={value} onChange={(event) => onValue((event.target as HTMLSelectElement).value)}>
        {choices.map((choice) =>
          typeof choice === 'string' ? (
            <option value={choice}>{choice}</option>
          ) : (
            <option value={choice.value} disabled={choice.disabled}>
              {choice.label}
            </option>
          ),
        )}
      </select>
    </label>
  );
}
