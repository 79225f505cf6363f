#!/usr/bin/env node
// The `gatehouse` command: runs the compiled CLI (built by `npm ci` through the `prepare` script).
// libuv's thread pool (password hashes, file writes) is sized by bin/gatehouse-server, not here: libuv
// reads UV_THREADPOOL_SIZE at the pool's first use, and in Node 20 loading this very module is that
// use. `gatehouse serve` run directly keeps 4 threads unless UV_THREADPOOL_SIZE is set (README).
import { main } from '../dist/cli.js'

process.exitCode = await main(process.argv)
