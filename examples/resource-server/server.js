// An "orders" service that trusts Gatehouse: GET /orders for users' tokens with the `items` scope. Run
// it after `npm ci` with
//   GATEHOUSE_ISSUER=http://127.0.0.1:8000 GATEHOUSE_CLIENT_ID=... GATEHOUSE_CLIENT_SECRET=... \
//   PORT=8001 node examples/resource-server/server.js
// The client is a confidential one registered at Gatehouse as a resource server
// (`gatehouse clients add orders --confidential --resource http://127.0.0.1:8001`);
// with it this service subscribes to Gatehouse's revocation event stream (`events` mode), so a logout
// or a disabled user is refused here within a second, with no call to Gatehouse per request. Tokens are
// verified locally with Gatehouse's published keys (ALGORITHM=EdDSA, ES256 or RS256); those of an
// HS256 Gatehouse by introspection with the same client, since this service never holds SECRET_KEY.
import express from 'express'
import { createGatehouseVerifier, requireScopes } from 'gatehouse-auth-kit/express'

const env = process.env
const issuer = env.GATEHOUSE_ISSUER ?? 'http://127.0.0.1:8000'
const clientId = env.GATEHOUSE_CLIENT_ID
const clientSecret = env.GATEHOUSE_CLIENT_SECRET

if (!clientId || !clientSecret)
  console.warn(
    'GATEHOUSE_CLIENT_ID / GATEHOUSE_CLIENT_SECRET are not set: tokens are trusted until they ' +
      'expire (revocation mode none), a logout at Gatehouse will not reach this service, and the ' +
      'tokens of an HS256 Gatehouse cannot be verified (503).',
  )

const verifier = createGatehouseVerifier({
  issuer,
  // This service's resource URI, if Gatehouse issues tokens for it (RFC 8707); else Gatehouse's own.
  audience: env.GATEHOUSE_AUDIENCE || undefined,
  revocation:
    clientId && clientSecret
      ? {
          mode: 'events',
          clientId,
          clientSecret,
          // A library does not log: this service does, without the secret.
          onError: (error) => console.error(`gatehouse: ${error.message}`),
        }
      : { mode: 'none' },
})

const app = express()
app.get('/orders', requireScopes(verifier, 'items'), (req, res) => {
  res.json([{ id: 1, owner: req.principal.username }])
})

const port = Number(env.PORT ?? 8001)
const host = env.HOST ?? '127.0.0.1'
const server = app.listen(port, host, () => {
  console.log(`orders service listening on http://${host}:${server.address().port}`)
})
// Graceful shutdown: stop accepting requests, then end the revocation stream.
process.on('SIGTERM', () => {
  server.close()
  void verifier.close()
})
