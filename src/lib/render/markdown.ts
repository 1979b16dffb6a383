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

/** Renders untrusted markdown to HTML in which raw HTML appears only as escaped text. */
export function renderMarkdown(source: string): string {
  return marked.parse(source, { async: false });
}
