// CORS for browser frontends on other origins (CORS_ORIGINS): which origins may read answers, and
// what their preflights are told. Without listed origins nothing is registered, so no CORS header
// is ever sent and browsers keep every other origin out.
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'

/** Preflight answers change only with a redeploy: an hour spares a round trip per call (Chromium caps it at two). */
const PREFLIGHT_MAX_AGE_SECONDS = 3_600

export async function registerCors(
  app: FastifyInstance,
  origins: readonly string[],
): Promise<void> {
  if (origins.length === 0) return
  await app.register(cors, {
    origin: [...origins],
    // Tokens travel in the Authorization header and form bodies, never in cookies: no credentials mode.
    credentials: false,
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    // Not CORS-safelisted, so a cross-origin script could not read the challenge or the throttling wait.
    exposedHeaders: ['WWW-Authenticate', 'Retry-After'],
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  })
}
