/**
 * Markdown → HTML for untrusted model text, the pure half of Chorus's safe renderer.
 *
 * Model output is untrusted (issue 2, item 6). Two layers keep it inert:
 *  1. here (pure, no DOM, runs in Node tests): marked parses the markdown, but every raw-HTML token
 *     is rendered as escaped text, links keep only http(s)/mailto targets, and images are shown as
 *     their alt text (the CSP would refuse remote images anyway: img-src 'self' blob: data:);
 *  2. in the page (src/ui/Markdown.svelte): DOMPurify sanitises the result against an allow-list,
 *     so a bug in layer 1 or in marked still cannot produce a script, handler or foreign element.
 * The strict CSP (tools/csp.mjs: no inline script) is the third wall.
 *
 * marked parses nested blocks recursively and matches emphasis delimiters in quadratic time, so a
 * hostile text can overflow the stack (`'>'.repeat(2000)`: RangeError) or stall the page
 * (`'_a'.repeat(20000)`: seconds). Texts past MARKDOWN_LIMITS are therefore shown as plain text with a
 * note saying why, decided by one linear scan before marked runs; any error marked still throws
 * gets the same fallback, so rendering never throws into the view.
 */
import { Marked, type Tokens } from 'marked';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for use in HTML element content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Link targets allowed through: absolute http(s) and mailto. Everything else (javascript:, data:, relative) is dropped. */
export function safeHref(href: string): string | null {
  const trimmed = href.trim();
  if (!/^(https?:\/\/|mailto:)/i.test(trimmed)) return null;
  // Reject control characters and whitespace, which browsers strip and attackers use to smuggle schemes.
  if (/[\u0000-\u0020\u007f]/.test(trimmed)) return null;
  return trimmed;
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    link(token: Tokens.Link): string {
      const inner = this.parser.parseInline(token.tokens);
      const href = safeHref(token.href);
      if (href === null) return inner;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
      return `<a href="${escapeHtml(href)}"${title} rel="noopener noreferrer nofollow" target="_blank">${inner}</a>`;
    },
    image({ text }: Tokens.Image): string {
      return escapeHtml(text ? `[image: ${text}]` : '[image]');
    },
  },
});

/**
 * Bounds under which marked renders any text in well under a second (measured in Node on the
 * 2-core dev VM: 32,000 characters of newline-separated letters 0.16 s, 4,000 `*a` pairs 0.1 s,
 * 300 nested list levels 7 ms). Real messages stay far inside them: 4,096 tokens are ~16,000 characters.
 */
export const MARKDOWN_LIMITS = { length: 32_000, depth: 64, emphasisMarkers: 4_000 } as const;

/** Deepest run of block containers (`>` quotes, `-`/`*`/`+`/`1.` list items) opened on any one line. */
function maxLineNesting(source: string): number {
  let deepest = 0;
  let depth = 0;
  let atLineStart = true;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 10) {
      depth = 0;
      atLineStart = true;
      continue;
    }
    if (!atLineStart || c === 32 || c === 9) continue;
    if (c === 62) depth++; // '>'
    else if ((c === 45 || c === 42 || c === 43) && (source.charCodeAt(i + 1) === 32 || source.charCodeAt(i + 1) === 9)) depth++; // - * +
    else if (c >= 48 && c <= 57) {
      let j = i;
      while (j < source.length && j - i < 9 && source.charCodeAt(j) >= 48 && source.charCodeAt(j) <= 57) j++;
      const d = source.charCodeAt(j);
      if ((d === 46 || d === 41) && source.charCodeAt(j + 1) === 32) { depth++; i = j; } // 1. or 1)
      else atLineStart = false;
    } else atLineStart = false;
    if (depth > deepest) deepest = depth;
  }
  return deepest;
}

function countEmphasisMarkers(source: string): number {
  let n = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 42 || c === 95 || c === 126) n++; // * _ ~
  }
  return n;
}

/** Why a text is shown as plain text instead of markdown, or null when markdown is safe to render. */
function tooHeavy(source: string): string | null {
  const { length, depth, emphasisMarkers } = MARKDOWN_LIMITS;
  if (source.length > length) return `the text is ${source.length} characters long (markdown is rendered up to ${length})`;
  const nesting = maxLineNesting(source);
  if (nesting > depth) return `the text nests ${nesting} levels deep (markdown is rendered up to ${depth})`;
  const markers = countEmphasisMarkers(source);
  if (markers > emphasisMarkers) return `the text has ${markers} emphasis markers (* _ ~; markdown is rendered up to ${emphasisMarkers})`;
  return null;
}

function plainText(source: string, why: string): string {
  return `<p><em>Shown as plain text: ${escapeHtml(why)}.</em></p><pre>${escapeHtml(source)}</pre>`;
}

/**
 * Renders untrusted markdown to HTML in which raw HTML appears only as escaped text. Never throws:
 * a text past MARKDOWN_LIMITS, or one marked fails on, comes back as escaped plain text with a note.
 */
export function renderMarkdown(source: string): string {
  const why = tooHeavy(source);
  if (why) return plainText(source, why);
  try {
    return marked.parse(source, { async: false });
  } catch (err) {
    return plainText(source, `the markdown renderer failed (${err instanceof Error ? err.message : String(err)})`);
  }
}
