// E-mail addresses unique case-insensitively (reset links are looked up that way), by an index on
// lower(email); where existing rows already collide the index is left out, never merging anyone's
// rows, and `gatehouse migrate` names the colliding addresses until they are told apart. The change
// feed also says when a user's address is verified, so that sessions see `email_verified` at once.
import type { Migration } from './migration.js'

/** The index that makes addresses unique case-insensitively (its name says `email` to the drivers). */
export const EMAIL_INDEX = 'gatehouse_users_email_lower'
export const CREATE_EMAIL_INDEX = `CREATE UNIQUE INDEX IF NOT EXISTS ${EMAIL_INDEX} ON users (lower(email))`
/** The addresses that share their lower-case form with another user's, as stored. */
export const COLLIDING_EMAILS = `SELECT email FROM users WHERE lower(email) IN (
    SELECT lower(email) FROM users WHERE email IS NOT NULL GROUP BY lower(email) HAVING COUNT(*) > 1)
  ORDER BY lower(email), id`

/** Every column of the user row whose change alters a token owner (what findTokenOwner reads). */
const USER_FIELDS = [
  'username',
  'email',
  'full_name',
  'hashed_password',
  'disabled',
  'scopes',
  'email_verified',
]
const changedWhen = (distinct: string): string =>
  USER_FIELDS.map((field) => `OLD.${field} ${distinct} NEW.${field}`).join(' OR ')
const SQLITE_NOW = `CAST(unixepoch('subsec') * 1000 AS INTEGER)`

export const uniqueAddresses: Migration = {
  version: 14,
  name: 'unique addresses, verification in the change feed',
  sqlite(db) {
    if (!db.prepare(`${COLLIDING_EMAILS} LIMIT 1`).get()) db.exec(CREATE_EMAIL_INDEX)
    db.exec(`
      DROP TRIGGER gatehouse_users_changed;
      CREATE TRIGGER gatehouse_users_changed AFTER UPDATE ON users WHEN ${changedWhen('IS NOT')}
        BEGIN INSERT INTO gatehouse_changes (at, kind, user_id, username)
          VALUES (${SQLITE_NOW}, 'user_changed', NEW.id, OLD.username); END;`)
  },
  async postgres(client) {
    const { rows } = await client.query(`${COLLIDING_EMAILS} LIMIT 1`)
    if (rows.length === 0) await client.query(CREATE_EMAIL_INDEX)
    // gatehouse_user_change (version 11) stays: only the columns that fire it change.
    await client.query(`
      DROP TRIGGER gatehouse_users_changed ON users;
      CREATE TRIGGER gatehouse_users_changed AFTER UPDATE ON users
        FOR EACH ROW WHEN (${changedWhen('IS DISTINCT FROM')}) EXECUTE FUNCTION gatehouse_user_change();`)
  },
}
