// `npm run dev`: the CLI straight from the TypeScript sources (bin/gatehouse.js runs the build).
import { main } from './cli.js'

process.exitCode = await main(process.argv)
