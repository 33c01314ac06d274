// Knowledge base (知识库) in Chromium. First, the OWASP filter-evasion corpus posted as article
// titles and bodies (a few through the page's form, the rest through the JSON API), as an edit
// whose diff is shown, and as a standard answer: no page that shows them (article, history, old
// version, diff, search, Q&A entry, the customer panel) fires a dialog or holds an injected
// element. Then a salesperson's day in Chinese: publish an article, attach a file through the
// form's file input, see it listed and download it, edit it and read the diff, and insert a
// standard answer into a customer's follow-ups from the customer page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { api, launch, person, signIn, shot } from './support.mjs';
import { VECTORS, assertInert, watchDialogs } from './xss-corpus.mjs';

const KB = '/api/plugins/knowledge-base';
const RUN = Date.now().toString(36);

async function category(admin, name, kind, editRoles = []) {
  return admin.post(`${KB}/categories`, { name: `${name} ${RUN}`, kind, read_roles: [], edit_roles: editRoles });
}

/** Publishes an article through the category page's form; answers its id. */
async function publishThroughForm(page, categoryId, title, body) {
  await page.goto(`/p/knowledge-base/category?id=${categoryId}`);
  await page.locator('#knowledge-base-category-title').fill(title);
  await page.locator('#knowledge-base-category-body').fill(body);
  await Promise.all([
    page.waitForURL(/\/p\/knowledge-base\/article\?id=\d+/),
    page.locator('form[action$="/act/add-article"] button[type=submit]').click(),
  ]);
  return Number(new URL(page.url()).searchParams.get('id'));
}

test('the XSS corpus posted as articles, an edit and a standard answer never executes', async () => {
  const admin = await api('admin');
  const articles = await category(admin, 'XSS <img src=x onerror=alert(1)>', 'article');
  const library = await category(admin, 'XSS 题库', 'qa');
  const customer = await admin.post('/api/v1/customers', { name: `XSS 客户 ${RUN}` });
  const browser = await launch();
  try {
    const { page, errors } = await person(browser, { locale: 'zh-CN' });
    const fired = watchDialogs(page);
    await signIn(page, 'admin');

    // A few through the form, as a person would paste them.
    const ids = [];
    for (const [i, v] of VECTORS.slice(0, 3).entries()) {
      const id = await publishThroughForm(page, articles.id, `表单 ${i} ${v}`.slice(0, 200), v);
      ids.push(id);
      await assertInert(page, fired, `article ${id} posted through the form (vector ${i})`);
    }
    // The rest through the JSON API.
    for (const [i, v] of VECTORS.entries()) {
      const a = await admin.post(`${KB}/articles`, {
        category_id: articles.id,
        title: `${i} ${v}`.slice(0, 200),
        body: `XSS 向量 ${i}\n\n${v}`,
        tags: v.slice(0, 50),
        facts: `风险：${v.slice(0, 80)}`,
      });
      ids.push(a.id);
    }
    for (const [n, id] of ids.entries()) {
      await page.goto(`/p/knowledge-base/article?id=${id}`);
      await page.locator('.markdown').first().waitFor();
      await assertInert(page, fired, `article ${id} (#${n})`);
    }

    // An edit that brings every vector: history, the old and the new version, and the diff.
    const edited = ids[ids.length - 1];
    await admin.put(`${KB}/articles/${edited}`, { title: VECTORS[0], body: VECTORS.join('\n'), note: VECTORS[1] });
    for (const path of [
      `/p/knowledge-base/diff?id=${edited}&from=1&to=2`,
      `/p/knowledge-base/history?id=${edited}`,
      `/p/knowledge-base/version?id=${edited}&v=1`,
      `/p/knowledge-base/version?id=${edited}&v=2`,
      `/p/knowledge-base/category?id=${articles.id}`,
      `/p/knowledge-base/search?q=${encodeURIComponent('XSS 向量')}`,
      '/p/knowledge-base/kb',
    ]) {
      await page.goto(path);
      await page.locator('main').first().waitFor();
      await assertInert(page, fired, path);
    }
    // The diff shows the vectors as text in table cells, marked as added.
    await page.goto(`/p/knowledge-base/diff?id=${edited}&from=1&to=2`);
    await page.locator('td', { hasText: '+ 新增' }).first().waitFor();
    assert.ok((await page.locator('td', { hasText: "<script>alert('XSS')</script>" }).count()) > 0, 'a vector shown as text');

    // A standard answer made of vectors: its page, the library, the customer panel, the answer page.
    const entry = await admin.post(`${KB}/qa`, {
      category_id: library.id,
      question: `XSS 问题 ${VECTORS[2]}`.slice(0, 200),
      answer: VECTORS.join('\n\n'),
      keywords: VECTORS[0],
    });
    for (const path of [
      `/p/knowledge-base/qa-entry?id=${entry.id}`,
      `/p/knowledge-base/qa?q=${encodeURIComponent('XSS 问题')}`,
      `/p/knowledge-base/answer?customer_id=${customer.id}&q=${encodeURIComponent('XSS 问题')}`,
      `/customers/${customer.id}`,
    ]) {
      await page.goto(path);
      await page.locator('main').first().waitFor();
      await assertInert(page, fired, path);
    }
    // Inserted into a follow-up, the answer's vectors stay inert on the customer's timeline too.
    await admin.post(`${KB}/customers/${customer.id}/follow-ups`, { qa_id: entry.id });
    await page.goto(`/customers/${customer.id}`);
    await page.locator('main').first().waitFor();
    await assertInert(page, fired, 'the customer timeline with the inserted answer');
    await shot(page, 'knowledge-base-xss-customer');
    assert.deepEqual(errors, [], errors.join('\n'));
  } finally {
    await browser.close();
  }
});

test('a salesperson publishes an article, attaches and downloads a file, reads the diff and answers a customer', async () => {
  const admin = await api('admin');
  const cat = await category(admin, '售后知识', 'article', ['Salesperson']);
  const library = await category(admin, '售后题库', 'qa', ['Salesperson']);
  const question = `如何申请售后服务 ${RUN}？`;
  await admin.post(`${KB}/qa`, { category_id: library.id, question, answer: '请拨打 **400-800-1234**，工程师 24 小时内上门。' });
  const zhang = await api('zhang.wei');
  const customer = await zhang.post('/api/v1/customers', { name: `上海启明贸易 ${RUN}` });

  const browser = await launch();
  try {
    const { page, errors } = await person(browser, { locale: 'zh-CN' });
    await signIn(page, 'zhang.wei');
    await page.goto('/p/knowledge-base/kb');
    await page.locator('h1', { hasText: '知识库' }).first().waitFor();
    const row = page.locator('tr', { hasText: cat.name });
    await Promise.all([page.waitForURL(/\/p\/knowledge-base\/category\?id=/), row.locator('button', { hasText: '浏览' }).click()]);

    const title = `退换货流程 ${RUN}`;
    const id = await publishThroughForm(page, cat.id, title, '## 退货\n\n收到商品 **7 天内**可申请售后服务。');
    await page.locator('h1', { hasText: title }).first().waitFor();
    await page.locator('.markdown strong', { hasText: '7 天内' }).waitFor();

    // Attach a file through the form's file input.
    const content = Buffer.from(`售后服务手册 ${RUN}\n第一章 退货\n`, 'utf8');
    await page.locator('#knowledge-base-article-file').setInputFiles({ name: '售后手册.txt', mimeType: 'text/plain', buffer: content });
    await Promise.all([
      page.waitForURL(/\/p\/knowledge-base\/article\?id=/),
      page.locator('form[action$="/act/upload"] button[type=submit]').click(),
    ]);
    await page.locator('.notice', { hasText: '已上传附件“售后手册.txt”' }).first().waitFor();
    await page.locator('td', { hasText: '售后手册.txt' }).first().waitFor();
    await shot(page, 'knowledge-base-article-attachment');

    // Download it from the link.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.markdown a', { hasText: '售后手册.txt' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), '售后手册.txt');
    assert.deepEqual(readFileSync(await download.path()), content);

    // Edit it: a second version, and the diff marks what changed.
    await Promise.all([page.waitForURL(/\/p\/knowledge-base\/edit\?id=/), page.locator('form[action$="/act/edit"] button').click()]);
    await page.locator('#knowledge-base-edit-body').fill('## 退货\n\n收到商品 **15 天内**可申请售后服务。');
    await page.locator('#knowledge-base-edit-note').fill('延长退货期');
    await Promise.all([page.waitForURL(/\/p\/knowledge-base\/article\?id=/), page.locator('form[action$="/act/save"] button[type=submit]').click()]);
    await page.locator('.markdown strong', { hasText: '15 天内' }).waitFor();
    await page.goto(`/p/knowledge-base/history?id=${id}`);
    await page.locator('td', { hasText: '延长退货期' }).first().waitFor();
    await page.goto(`/p/knowledge-base/diff?id=${id}&from=1&to=2`);
    await page.locator('tr', { hasText: '+ 新增' }).filter({ hasText: '15 天内' }).first().waitFor();
    await page.locator('tr', { hasText: '- 删除' }).filter({ hasText: '7 天内' }).first().waitFor();
    await shot(page, 'knowledge-base-diff');

    // Answering a customer: search from the customer page's panel, insert into a follow-up.
    await page.goto(`/customers/${customer.id}`);
    await page.locator('#knowledge-base-customer-kb-q').fill('售后');
    await Promise.all([
      page.waitForURL(/\/p\/knowledge-base\/answer\?customer_id=/),
      page.locator('form[action$="/customer-kb/act/search"] button[type=submit]').click(),
    ]);
    const answer = page.locator('tr', { hasText: question });
    await answer.locator('button', { hasText: '插入跟进' }).click();
    await page.locator('.notice', { hasText: `已插入客户“${customer.name}”的跟进记录` }).first().waitFor();
    await page.goto(`/customers/${customer.id}`);
    await page.locator('main', { hasText: '400-800-1234' }).first().waitFor();
    await shot(page, 'knowledge-base-follow-up');
    assert.deepEqual(errors, [], errors.join('\n'));
  } finally {
    await browser.close();
  }
});
