// The same pages in Chinese and in English: the page says which language it is in, the
// navigation is in it, and no string is missing from either language.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launch, person, signIn, shot, chromeTexts } from './support.mjs';

const PAGES = ['/', '/customers', '/customers/new', '/approvals', '/analysis', '/notifications', '/profile'];
const CJK = /[\u4e00-\u9fff]/;

for (const [locale, navWord, analysisWord] of [['zh-CN', '客户', '统计分析'], ['en', 'Customers', 'Analysis']]) {
  test(`every page in ${locale}, with no untranslated string`, async () => {
    const browser = await launch();
    const user = await api('li.na');
    try {
      await user.patch('/api/v1/me', { locale });
      const { page, errors } = await person(browser, { locale });
      await signIn(page, 'li.na');
      const customer = page.locator('table.list tbody a');
      await page.goto('/customers');
      const pages = [...PAGES];
      if (await customer.count()) pages.push(await customer.first().getAttribute('href'));
      for (const path of pages) {
        const res = await page.goto(path);
        assert.equal(res.status(), 200, path);
        assert.equal(await page.locator('html').getAttribute('lang'), locale, path);
        const nav = await page.locator('nav.main-nav a').allInnerTexts();
        assert.ok(nav.includes(navWord) && nav.includes(analysisWord), `${path}: navigation in ${locale}: ${nav}`);
        for (const text of await chromeTexts(page)) {
          assert.notEqual(text, '?', `${path}: a string without translation`);
          assert.doesNotMatch(text, /^[a-z_]+(\.[a-z_]+)+$/, `${path}: a key instead of words`);
        }
        const headings = await page.locator('th, label, legend').allInnerTexts();
        for (const h of headings.filter((t) => t.trim())) {
          if (locale === 'en') assert.doesNotMatch(h, CJK, `${path}: Chinese in an English label: ${h}`);
        }
        await shot(page, `languages-${locale}${path.replaceAll('/', '-')}`);
      }
      assert.deepEqual(errors, [], `errors in the page: ${errors.join('\n')}`);
    } finally {
      await user.patch('/api/v1/me', { locale: 'zh-CN' });
      await browser.close();
    }
  });
}

const ADMIN_PAGES = ['/contacts', '/customers/import', '/admin/users', '/admin/departments', '/admin/roles',
  '/admin/custom-fields', '/admin/option-lists', '/admin/customer-codes', '/admin/sign-in-rules', '/admin/audit',
  '/admin/workflows', '/admin/webhooks', '/admin/plugins'];

for (const locale of ['zh-CN', 'en']) {
  test(`the administration pages in ${locale}, with no untranslated string`, async () => {
    const browser = await launch();
    const admin = await api('admin');
    try {
      await admin.patch('/api/v1/me', { locale });
      const { page, errors } = await person(browser, { locale });
      await signIn(page, 'admin');
      for (const path of ADMIN_PAGES) {
        const res = await page.goto(path);
        assert.equal(res.status(), 200, path);
        assert.equal(await page.locator('html').getAttribute('lang'), locale, path);
        for (const text of await chromeTexts(page)) {
          assert.notEqual(text, '?', `${path}: a string without translation`);
          assert.doesNotMatch(text, /^[a-z_]+(\.[a-z_]+)+$/, `${path}: a key instead of words`);
        }
        if (locale === 'en') {
          for (const h of (await page.locator('h1, h2, th, legend').allInnerTexts()).filter((t) => t.trim())) {
            assert.doesNotMatch(h, CJK, `${path}: Chinese in an English heading: ${h}`);
          }
        }
        await shot(page, `languages-admin-${locale}${path.replaceAll('/', '-')}`);
      }
      assert.deepEqual(errors, [], `errors in the page: ${errors.join('\n')}`);
    } finally {
      await admin.patch('/api/v1/me', { locale: 'zh-CN' });
      await browser.close();
    }
  });
}

test('signed out, the sign-in page follows Accept-Language', async () => {
  const browser = await launch();
  try {
    for (const [locale, word] of [['en-US', 'Sign in'], ['zh-CN', '登录']]) {
      const { page } = await person(browser, { locale });
      await page.goto('/');
      assert.match(new URL(page.url()).pathname, /^\/sign-in/);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), word);
    }
  } finally {
    await browser.close();
  }
});
