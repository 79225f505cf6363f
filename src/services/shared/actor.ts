// Who is behind a request or a command, as the use-cases record it in the audit log: the client's
// address and user agent, and the name of whoever acted (a user, an admin, or `cli:<os user>`).

/** Where a request came from. */
export interface ClientInfo {
  ip: string | null
  userAgent: string | null
}

/** Someone acting: a signed-in user or admin (their username), or the CLI (`cli:<os user>`). */
export interface Actor extends ClientInfo {
  name: string
}
