import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

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
  // What is typed into a `commit` field lives here until it is applied: a view re-rendering meanwhile (a clock, a poll)
  // would otherwise put the applied value back into the input, under the operator's fingers.
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  const typed = (event: Event) => setDraft((event.target as HTMLInputElement).value);
  const picker = dateTime ? { type: 'datetime-local' as const } : {};
  return (
    <label>
      {label}{' '}
      <input
        {...picker}
        name={name}
        size={size}
        placeholder={placeholder}
        value={commit ? draft : value}
        onInput={commit ? typed : handler}
        onChange={commit ? handler : undefined}
      />
    </label>
  );
}

/** What a view aimed at one container on the hosts of a target keeps in its form. */
interface ContainerForm {
  target: string;
  container: string;
}

/** The Target and Container fields of a view aimed at one container on a target's hosts (logs, stats, exec). */
export function ContainerFields<F extends ContainerForm>({ form, setForm }: { form: F; setForm: (form: F) => void }) {
  return (
    <>
      <Field label="Target" name="target" value={form.target} onValue={(target) => setForm({ ...form, target })} />
      <Field label="Container" name="container" value={form.container} onValue={(container) => setForm({ ...form, container })} />
    </>
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
