// Stored text (usernames, names, audit details) printed to a terminal: control characters could
// move the cursor, rewrite earlier lines or change the terminal's settings, so they are shown as
// escapes instead of being sent raw.

/** `text` with every control character (C0, DEL, C1, and bidi overrides) written as `\u{..}`. */
export function printable(text: string): string {
  return text.replace(
    /[\p{Cc}\u202A-\u202E\u2066-\u2069]/gu,
    (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`,
  )
}
