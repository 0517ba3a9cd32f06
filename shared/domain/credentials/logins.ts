import type { DatabaseLogin } from '../inventory/model.js';

/** The second login of an `alternating` credential. */
export const alternateOf = (role: string): string => `${role}_alt`;

/**
 * The login a rotation sets the new password on: the role itself with `single`; with `alternating`, the one the
 * current version does not use (the role itself for a first version), so the current login keeps working.
 */
export function targetLogin(database: DatabaseLogin, currentLogin: string | undefined): string {
  switch (database.strategy) {
    case 'single':
      return database.role;
    case 'alternating':
      return currentLogin === database.role ? alternateOf(database.role) : database.role;
    default: {
      const never: never = database.strategy;
      throw new Error(`unknown strategy ${String(never)}`);
    }
  }
}
