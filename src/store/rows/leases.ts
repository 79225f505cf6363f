// Taking a lease (LeaseStore): one upsert whose text both dialects accept.

/** Lease-taking upsert, with the driver's placeholders for name, holder, expires_at and now. */
export const takeLeaseQuery = (name: string, holder: string, expiresAt: string, now: string) =>
  `INSERT INTO gatehouse_leases AS l (name, holder, expires_at) VALUES (${name}, ${holder}, ${expiresAt})
   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
   WHERE l.expires_at <= ${now} OR l.holder = excluded.holder`
