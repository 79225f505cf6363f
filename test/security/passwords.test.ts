import * as argon2 from '@node-rs/argon2'
import * as bcrypt from '@node-rs/bcrypt'
import { describe, expect, it } from 'vitest'
import { Overloaded } from '../../src/errors.js'
import {
  createPasswordHasher,
  needsRehash,
  OWASP_ARGON2ID,
  passwordForms,
} from '../../src/security/passwords.js'
import { createWorkQueue } from '../../src/security/work-queue.js'
import { TUTORIAL_HASH } from '../support/tutorial-db.js'

const hasher = () => createPasswordHasher({ concurrency: 2, maxQueued: 64 })

describe('password hashing', () => {
  it('hashes with argon2id at OWASP parameters or stronger, and verifies', async () => {
    const h = hasher()
    const hash = await h.hash('s3cret pass')
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/)
    const [, m, t, p] = /m=(\d+),t=(\d+),p=(\d+)/.exec(hash)!
    expect(Number(m)).toBeGreaterThanOrEqual(19_456)
    expect(Number(t)).toBeGreaterThanOrEqual(2)
    expect(Number(p)).toBeGreaterThanOrEqual(1)
    expect((await h.verify('s3cret pass', hash)).matches).toBe(true)
    expect((await h.verify('s3cret pasS', hash)).matches).toBe(false)
    expect(h.needsRehash(hash)).toBe(false)
  })

  it('verifies the FastAPI tutorial’s bcrypt hash and every bcrypt prefix', async () => {
    const h = hasher()
    // johndoe / "secret" from FastAPI's security tutorial (passlib, $2b$12$).
    expect((await h.verify('secret', TUTORIAL_HASH)).matches).toBe(true)
    expect((await h.verify('Secret', TUTORIAL_HASH)).matches).toBe(false)
    const b = await bcrypt.hash('pw', 4)
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      expect((await h.verify('pw', prefix + b.slice(4))).matches).toBe(true)
    }
    expect(h.needsRehash(TUTORIAL_HASH)).toBe(true)
  })

  it('reads a password longer than 72 bytes as passlib did for a bcrypt hash: by its first 72 bytes, asking for an upgrade', async () => {
    const h = hasher()
    const password = 'p'.repeat(100)
    const stored = await bcrypt.hash(password.slice(0, 72), 4)
    expect(await h.verify(password, stored)).toMatchObject({ matches: true, upgrade: true })
    const upgraded = await h.rehash(password)
    expect((await h.verify(password, upgraded)).matches).toBe(true)
    expect((await h.verify(password.slice(0, 72), upgraded)).matches).toBe(false)
  })

  it('keeps passwords longer than 72 bytes whole with argon2id', async () => {
    const h = hasher()
    const long = 'q'.repeat(200)
    const hash = await h.hash(long)
    expect((await h.verify(long, hash)).matches).toBe(true)
    expect((await h.verify('q'.repeat(199) + 'r', hash)).matches).toBe(false)
  })

  it('hashes the NFKC form, so a password matches however the keyboard composed it', async () => {
    const h = hasher()
    const composed = 'caf\u00e9 au lait'
    const decomposed = 'cafe\u0301 au lait'
    for (const stored of [await h.hash(composed), await h.hash(decomposed)]) {
      expect(await h.verify(composed, stored)).toMatchObject({ matches: true, upgrade: false })
      expect(await h.verify(decomposed, stored)).toMatchObject({ matches: true, upgrade: false })
    }
    expect(passwordForms(composed)).toEqual([composed])
    expect(passwordForms(decomposed)).toEqual([composed, decomposed])
  })

  it('still verifies a hash of a password as typed before normalization, and asks for an upgrade', async () => {
    const h = hasher()
    const typed = 'cafe\u0301 au lait'
    const legacy = await argon2.hash(typed, { algorithm: 2, ...OWASP_ARGON2ID })
    expect(await h.verify(typed, legacy)).toMatchObject({ matches: true, upgrade: true })
    expect((await h.verify('cafe au lait', legacy)).matches).toBe(false)
    const upgraded = await h.rehash(typed)
    expect((await h.verify('caf\u00e9 au lait', upgraded)).matches).toBe(true)
  })

  it('answers false, not an error, for hashes it cannot read', async () => {
    const h = hasher()
    for (const stored of ['', 'plaintext', '$argon2id$garbage', '$2b$12$short', '$1$md5crypt']) {
      expect((await h.verify('x', stored)).matches).toBe(false)
    }
  })

  it('asks for a rehash of weaker argon2 hashes and of other algorithms', () => {
    expect(
      needsRehash('$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g', OWASP_ARGON2ID),
    ).toBe(true)
    expect(
      needsRehash('$argon2id$v=19$m=19456,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g', OWASP_ARGON2ID),
    ).toBe(true)
    expect(
      needsRehash('$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g', OWASP_ARGON2ID),
    ).toBe(true)
    expect(
      needsRehash(
        '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQxMjM0NTY3OA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA',
        OWASP_ARGON2ID,
      ),
    ).toBe(false)
  })
})

describe('hashing queue admission', () => {
  it('admits a check against argon2id or a missing user exactly as one against bcrypt', async () => {
    // Two slots, nothing may wait: with one argon2id check running, one more check of any kind fits.
    const h = createPasswordHasher({ concurrency: 2, maxQueued: 0 })
    await h.verifyDummy('warm-up')
    const argon2id = await h.hash('someone-else')
    const legacy = await bcrypt.hash('pw', 10)
    const probes = [
      () => h.verifyDummy('guess'),
      () => h.verify('guess', argon2id),
      () => h.verify('guess', legacy),
    ]
    for (const probe of probes) {
      const running = h.verify('guess', argon2id)
      await expect(probe().then(() => 'admitted')).resolves.toBe('admitted')
      await running
      // With both slots taken, refused alike, whatever its kind.
      const busy = [h.verify('guess', legacy), h.verify('guess', argon2id)]
      await expect(probe()).rejects.toBeInstanceOf(Overloaded)
      await Promise.all(busy)
    }
  })
})

describe('work queue', () => {
  it('runs at most `concurrency` jobs at once and refuses work beyond the queue', async () => {
    const queue = createWorkQueue({ concurrency: 2, maxQueued: 3 })
    let running = 0
    let peak = 0
    const releases: Array<() => void> = []
    const job = () =>
      queue.run(async () => {
        running++
        peak = Math.max(peak, running)
        await new Promise<void>((resolve) => releases.push(resolve))
        running--
      })
    const accepted = Array.from({ length: 5 }, job)
    expect(queue.depth).toBe(5)
    await expect(job()).rejects.toBeInstanceOf(Overloaded)
    while (releases.length > 0 || queue.depth > 0) {
      releases.shift()?.()
      await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(accepted)
    expect(peak).toBe(2)
    expect(queue.depth).toBe(0)
  })

  it('runs a `next` job before every waiting one, even when the queue is full', async () => {
    const queue = createWorkQueue({ concurrency: 1, maxQueued: 2 })
    const order: string[] = []
    let release = (): void => {}
    const blocker = queue.run(() => new Promise<void>((resolve) => (release = resolve)))
    const job = (name: string) => async () => {
      order.push(name)
    }
    const waiting = [queue.run(job('first waiting')), queue.run(job('second waiting'))]
    await expect(queue.run(job('refused'))).rejects.toBeInstanceOf(Overloaded)
    const next = queue.run(job('next'), { next: true })
    expect(queue.depth).toBe(4)
    release()
    await Promise.all([blocker, next, ...waiting])
    expect(order).toEqual(['next', 'first waiting', 'second waiting'])
    expect(queue.depth).toBe(0)
  })

  it('runs memory-hard jobs within their own limit, letting cheaper ones past them to free cores', async () => {
    const queue = createWorkQueue({ concurrency: 2, maxQueued: 8, memoryHardConcurrency: 1 })
    const started: string[] = []
    const releases = new Map<string, () => void>()
    const job = (name: string, memoryHard: boolean) =>
      queue.run(
        () =>
          new Promise<void>((resolve) => {
            started.push(name)
            releases.set(name, resolve)
          }),
        { memoryHard },
      )
    const tick = () => new Promise((resolve) => setImmediate(resolve))
    const jobs = [
      job('argon2 a', true),
      job('argon2 b', true),
      job('bcrypt', false),
      job('argon2 c', true),
    ]
    await tick()
    // One core for one memory-hard job; the other goes to the bcrypt job that waited behind argon2 b.
    expect(started).toEqual(['argon2 a', 'bcrypt'])
    releases.get('bcrypt')!()
    await tick()
    expect(started).toEqual(['argon2 a', 'bcrypt'])
    releases.get('argon2 a')!()
    await tick()
    expect(started).toEqual(['argon2 a', 'bcrypt', 'argon2 b'])
    releases.get('argon2 b')!()
    await tick()
    releases.get('argon2 c')!()
    await Promise.all(jobs)
    expect(started).toEqual(['argon2 a', 'bcrypt', 'argon2 b', 'argon2 c'])
    expect(queue.depth).toBe(0)
  })

  it('frees the slot of a job that failed', async () => {
    const queue = createWorkQueue({ concurrency: 1, maxQueued: 0 })
    await expect(queue.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    await expect(queue.run(async () => 42)).resolves.toBe(42)
  })
})
