// Stands in for jsr:@std/cli/parse-args (the JSR registry is out of reach here): the npm
// registry's minimist, which that module was ported from, reads mcp-run-python's flags the same.
import minimist from 'npm:minimist@1.2.8'

export const parseArgs = minimist
