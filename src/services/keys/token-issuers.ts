// Which issuers (`iss`) and audiences (`aud`) an instance accepts. With ISSUER set, exactly that one.
// Without it every instance signs as its own default (http://HOST:PORT), records it in the shared
// database, and accepts the tokens of every issuer recorded there: instances started on other ports
// or hosts (or one restarted on a new port) never refuse each other's tokens with a silent 401.
import type { AcceptedClaims } from '../../security/tokens.js'
import type { IssuerStore } from '../../store/contract.js'

export interface TokenIssuers {
  /** Re-reads the recorded issuers (at most once a second); true when the accepted set grew. */
  reload(): Promise<boolean>
}

export interface TokenIssuersOptions {
  store: IssuerStore
  issuer: string
  /** ISSUER was set: accept no other. */
  issuerConfigured: boolean
  /** AUDIENCE was set: accept no other audience either. */
  audienceConfigured: boolean
  /** Told the accepted issuers and audiences whenever they change. */
  onChange: (accepted: AcceptedClaims) => void
}

const RELOAD_INTERVAL_MS = 1_000

export async function createTokenIssuers(options: TokenIssuersOptions): Promise<TokenIssuers> {
  const { store, issuer } = options
  if (options.issuerConfigured) return { reload: async () => false }
  await store.recordIssuer(issuer, Date.now())
  let known = ''
  let reloadedAt = 0
  const load = async (): Promise<boolean> => {
    const issuers = await store.listIssuers()
    if (issuers.join('\n') === known) return false
    known = issuers.join('\n')
    // Without AUDIENCE, each instance's audience is its issuer.
    options.onChange({ issuers, audiences: options.audienceConfigured ? [] : issuers })
    return true
  }
  await load()
  return {
    async reload() {
      if (Date.now() - reloadedAt < RELOAD_INTERVAL_MS) return false
      reloadedAt = Date.now()
      return load()
    },
  }
}
