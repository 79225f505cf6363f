// `gatehouse-auth/verify`: the kit's framework-free core, which lives in its own package
// (gatehouse-auth-kit, packages/kit/). Re-exported so that imports from before the split keep working.
export * from 'gatehouse-auth-kit/verify'
