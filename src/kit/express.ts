// `gatehouse-auth/express`: the kit's Express adapter, which lives in its own package (gatehouse-auth-kit,
// packages/kit/). Re-exported so that imports from before the split keep working.
export * from 'gatehouse-auth-kit/express'
