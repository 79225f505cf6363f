// The code blocks of README.md and docs/*.md that are meant to run: each is marked by an HTML comment
// before it (`<!-- test: shell|server|service -->`, with an optional `expect="..."`; the syntax is in
// docs/development.md). test/docs/ runs them; other tests run one of them where they need it.

export interface Snippet {
  kind: 'shell' | 'server' | 'service'
  code: string
  /** Text the block's output must contain. */
  expect: string | undefined
  line: number
}

const MARKER = /^<!-- test: (shell|server|service)(?: expect="((?:[^"\\]|\\.)*)")? -->$/

/** The marked blocks of a Markdown file, in order: a marker, blank lines, then a fenced block. */
export function markedSnippets(markdown: string): Snippet[] {
  const lines = markdown.split('\n')
  const snippets: Snippet[] = []
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i] ?? '')
    if (!marker) continue
    let start = i + 1
    while (lines[start] === '') start++
    if (!/^```\w+$/.test(lines[start] ?? ''))
      throw new Error(`line ${i + 1}: a test marker must be followed by a fenced code block`)
    const end = lines.indexOf('```', start + 1)
    if (end < 0) throw new Error(`line ${start + 1}: unclosed code block`)
    snippets.push({
      kind: marker[1] as Snippet['kind'],
      code: lines.slice(start + 1, end).join('\n') + '\n',
      expect: marker[2] === undefined ? undefined : (JSON.parse(`"${marker[2]}"`) as string),
      line: start + 1,
    })
    i = end
  }
  return snippets
}
