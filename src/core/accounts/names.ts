// Account names double as npm scopes (@name), so they follow npm's scope rules and are
// lower-case only: two accounts can never differ only by case.
import { invalid } from '../errors.ts';

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,49}$/;
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export function validateUsername(name: unknown): string {
  if (typeof name !== 'string' || !USERNAME.test(name)) {
    throw invalid('INVALID_USERNAME', 'Usernames are 1–50 characters: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  return name;
}

export function validateEmail(email: unknown): string {
  if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) {
    throw invalid('INVALID_EMAIL', 'A valid email address is required');
  }
  return email;
}
