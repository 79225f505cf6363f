// An "orders" service that trusts Gatehouse: GET /orders for tokens with the `items` scope. Run it
// after `npm ci` with
//   GATEHOUSE_ISSUER=http://127.0.0.1:8000 GATEHOUSE_CLIENT_ID=... GATEHOUSE_CLIENT_SECRET=... \
//   PORT=8001 node examples/resource-server/server.js
// The client is a confidential one registered at Gatehouse (`gatehouse clients add orders --confidential`);
// it lets this service ask Gatehouse whether a token is still live (introspection), so a logout shows here
// within GATEHOUSE_CACHE_SECONDS. Tokens are verified locally with Gatehouse's published keys (ALGORITHM=
// EdDSA, ES256 or RS256), or with GATEHOUSE_SECRET (its SECRET_KEY) for an HS256 Gatehouse.
import express from 'express'
import { createGatehouseVerifier, requireScopes } from 'gatehouse-auth/express'

const env = process.env
const issuer = env.GATEHOUSE_ISSUER ?? 'http://127.0.0.1:8000'
const clientId = env.GATEHOUSE_CLIENT_ID
const clientSecret = env.GATEHOUSE_CLIENT_SECRET

const verifier = createGatehouseVerifier({
  issuer,
  audience: env.GATEHOUSE_AUDIENCE,
  secret: env.GATEHOUSE_SECRET,
  revocation:
    clientId && clientSecret
      ? {
          mode: 'introspect',
          clientId,
          clientSecret,
          cacheSeconds: Number(env.GATEHOUSE_CACHE_SECONDS ?? 1),
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
process.on('SIGTERM', () => server.close())
