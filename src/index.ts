// The library entry point: wire the services, build the app in your own server and protect your
// own routes with `onRequest: app.authenticate` (see the README).
export { buildApp } from './app.js'
export { createServices, type Services, type ServiceOptions } from './compose.js'
export { loadConfig, parseConfig, type Config } from './config.js'
export { saveGeneratedSecret, saveGeneratedSecrets } from './first-start.js'
export * from './errors.js'
export { readBearerToken, type AuthenticateHook } from './http/auth.js'
export { PublicUserSchema, ErrorSchema } from './http/schemas.js'
export type { PublicUser } from './services/shared/public-user.js'
export type { Store, UserRecord } from './store/contract.js'
export { openStore } from './store/open.js'
export { startServer } from './server.js'
