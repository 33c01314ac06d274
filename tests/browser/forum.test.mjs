// The forum (营销论坛) in Chromium. A salesperson in zh-CN opens the forum, starts a thread that
// @mentions a colleague and replies to it, all through the pages; the colleague is notified.
// Then every vector of the XSS filter-evasion corpus is posted as a thread title, a thread body
// and a reply (a few through the forms, the rest through the pages' JSON API), and each thread
// page, the board's list and the search results are opened: no dialog fires, no injected
// element exists, and nothing executable survives in the rendered Markdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launch, person, signIn, shot } from './support.mjs';
import { VECTORS, assertInert, watchDialogs } from './xss-corpus.mjs';

const PAGES = '/api/v1/plugins/forum/pages';

/** The id of the board of this name, added as the administrator when missing. */
async function board(admin, name, roles = '') {
  const find = async () => {
    const page = await admin.get(`${PAGES}/boards`);
    const table = page.blocks.find((b) => b.type === 'table');
    const i = table ? table.rows.findIndex((r) => r[0] === name) : -1;
    return i >= 0 ? Number(table.row_ids[i]) : null;
  };
  const found = await find();
  if (found) return found;
  const done = await admin.post(`${PAGES}/boards/actions/add-board`, { input: { name, roles, description: '', position: 0 } });
  assert.equal(done.level, 'success', JSON.stringify(done));
  return find();
}

/** Starts a thread through the forum page's action; answers its id. */
async function postThread(client, boardId, title, body) {
  const done = await client.post(`${PAGES}/forum/actions/new-thread`, {
    input: { board: String(boardId), title, body, customer: null },
  });
  assert.equal(done.type, 'redirect', JSON.stringify(done));
  return Number(done.to.split('=').pop());
}

async function reply(client, threadId, body) {
  const done = await client.post(`${PAGES}/thread/actions/reply`, { argument: String(threadId), input: { body } });
  assert.equal(done.level, 'success', JSON.stringify(done));
}

/** Submits the form whose action ends with `/act/<name>` and waits for the page it leads to. */
async function submit(page, name) {
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'domcontentloaded' }),
    page.locator(`form[action$="/act/${name}"] button[type=submit]`).click(),
  ]);
}

test('a salesperson starts a thread that mentions a colleague and replies to it (zh-CN)', async () => {
  const admin = await api('admin');
  const boardId = await board(admin, '销售交流');
  const stamp = Date.now();
  const title = `新报价流程 ${stamp}`;

  const browser = await launch();
  try {
    const { page, errors } = await person(browser, { locale: 'zh-CN' });
    await signIn(page, 'zhang.wei');
    await page.goto('/p/forum/forum');
    await page.locator('h1', { hasText: '论坛' }).first().waitFor();
    await page.locator('td', { hasText: '销售交流' }).first().waitFor();

    await page.locator('#forum-forum-board').selectOption(String(boardId));
    await page.locator('#forum-forum-title').fill(title);
    await page.locator('#forum-forum-body').fill('@李娜请看一下 **新的报价流程**：\n\n1. 先填报价单\n2. 再找经理审批');
    await submit(page, 'new-thread');
    assert.match(page.url(), /\/p\/forum\/thread\?id=\d+$/);
    const threadId = Number(new URL(page.url()).searchParams.get('id'));
    await page.locator('h1', { hasText: title }).first().waitFor();
    // The body is Markdown: bold and a list.
    await page.locator('.markdown strong', { hasText: '新的报价流程' }).waitFor();
    assert.equal(await page.locator('.markdown ol li').count(), 2);

    await page.locator('#forum-thread-body').fill('@li.na 已更新，请查收。');
    await submit(page, 'reply');
    await page.locator('.notice', { hasText: '已回复。' }).first().waitFor();
    await page.locator('.markdown', { hasText: '已更新，请查收。' }).first().waitFor();
    await page.locator('h3', { hasText: '回复（1）' }).waitFor();
    await shot(page, 'forum-thread-zh');

    // 李娜 was mentioned in the thread and in the reply: told once for each post.
    const lina = await api('li.na');
    const inbox = await lina.get('/api/v1/notifications');
    const mine = inbox.items.filter((n) => n.link === `/p/forum/thread?id=${threadId}`);
    assert.equal(mine.length, 2, JSON.stringify(mine));
    assert.ok(mine.every((n) => n.title.includes('张伟 在帖子中提到了您')), JSON.stringify(mine));

    // The thread is listed on the forum page; unread for 李娜 until she opens it.
    const home = await lina.get(`${PAGES}/forum`);
    const latest = home.blocks.filter((b) => b.type === 'table').find((t) => t.columns[0].key === 'title');
    const row = latest.rows[latest.row_ids.indexOf(String(threadId))];
    assert.ok(row && row[5].includes('新帖'), JSON.stringify(row));
    assert.deepEqual(errors, [], errors.join('\n'));
  } finally {
    await browser.close();
  }
});

test('the XSS corpus posted as threads and replies never executes', async () => {
  const admin = await api('admin');
  const wei = await api('zhang.wei');
  const boardId = await board(admin, 'XSS 测试');
  const threads = [];

  const browser = await launch();
  try {
    const { page } = await person(browser, { locale: 'zh-CN' });
    const fired = watchDialogs(page);
    await signIn(page, 'zhang.wei');

    // A few through the forms, as a person would paste them.
    for (const vector of VECTORS.slice(0, 4)) {
      await page.goto(`/p/forum/board?id=${boardId}`);
      await page.locator('#forum-board-title').fill(vector.slice(0, 200));
      await page.locator('#forum-board-body').fill(vector);
      await submit(page, 'new-thread');
      assert.match(page.url(), /\/p\/forum\/thread\?id=\d+$/, `posting ${vector}`);
      await page.locator('#forum-thread-body').fill(vector);
      await submit(page, 'reply');
      await page.locator('.notice', { hasText: '已回复。' }).first().waitFor();
      await assertInert(page, fired, `thread posted through the form: ${vector}`);
      threads.push(Number(new URL(page.url()).searchParams.get('id')));
    }
    // The rest through the JSON API, then each thread page opened in Chromium.
    for (const vector of VECTORS.slice(4)) {
      const id = await postThread(wei, boardId, vector.slice(0, 200), vector);
      await reply(admin, id, `回复 ${vector}`);
      threads.push(id);
    }
    assert.equal(threads.length, VECTORS.length);
    for (const [i, id] of threads.entries()) {
      await page.goto(`/p/forum/thread?id=${id}`);
      await page.locator('h1').first().waitFor();
      await assertInert(page, fired, `thread page of vector ${i}: ${VECTORS[i]}`);
    }
    await page.goto(`/p/forum/board?id=${boardId}`);
    await assertInert(page, fired, 'the board list');
    await page.goto(`/p/forum/search?q=${encodeURIComponent('alert')}`);
    await assertInert(page, fired, 'the search results');
    await shot(page, 'forum-xss-search');
  } finally {
    await browser.close();
  }
});
