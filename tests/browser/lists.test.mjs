// A salesperson's everyday list work in a real browser: a spreadsheet of customers imported
// through the wizard while its progress bar follows the run, then the list narrowed, saved
// as a view and shown with other columns, on a desktop and at phone width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launch, person, signIn, shot, PASSWORD } from './support.mjs';

test('customers are imported with a live progress bar, then kept as a saved view with chosen columns', async () => {
  const browser = await launch();
  const admin = await api('admin');
  // A salesperson of their own, so the demo's people keep their customers for the other tests.
  const stamp = Date.now() % 1000000;
  const username = `import.${stamp}`;
  const roles = await admin.get('/api/v1/roles');
  const salesperson = roles.find((r) => r.name === 'Salesperson' || r.name === '销售');
  assert.ok(salesperson, `a salesperson role among ${roles.map((r) => r.name)}`);
  await admin.post('/api/v1/users', {
    username, display_name: `Importer ${stamp}`, password: PASSWORD, locale: 'en', role_ids: [salesperson.id],
  });
  try {
    const { page, errors } = await person(browser, { locale: 'en' });
    await signIn(page, username);
    await page.getByRole('link', { name: 'Customers', exact: true }).click();
    await page.getByRole('link', { name: 'Import', exact: true }).click();

    // Enough rows that the run takes a moment, each with a name no demo customer has.
    const rows = ['客户名称,电话,行业'];
    for (let i = 0; i < 3000; i += 1) rows.push(`导入测试${stamp}号${i},1390000${String(i).padStart(4, '0')},制造业`);
    await page.getByLabel('CSV or Excel (.xlsx) file').setInputFiles({
      name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n'), 'utf8'),
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    // The columns come suggested: the name column maps to the customer's name.
    await page.getByRole('button', { name: 'Check the file' }).waitFor();
    await shot(page, 'import-mapping');
    await page.getByRole('button', { name: 'Check the file' }).click();
    await page.getByRole('button', { name: 'Import now' }).click();
    await page.locator('progress#import-bar').waitFor();
    await shot(page, 'import-progress');
    // The page follows the run by itself (no reload from here) and ends on its outcome.
    await page.getByText('Import finished.').waitFor({ timeout: 180_000 });
    await shot(page, 'import-finished');

    await page.getByRole('link', { name: 'Go to the customer list' }).click();
    await page.getByLabel('Search', { exact: true }).fill(`导入测试${stamp}号299`);
    await page.getByRole('button', { name: 'Filter' }).click();
    const found = await page.locator('table.list tbody tr a').allInnerTexts();
    assert.ok(found.includes(`导入测试${stamp}号299`), `the imported customer is listed: ${found}`);

    // Kept as a view, and shown with the industry column.
    await page.getByText('Save these filters as a view').click();
    await page.getByLabel('View name').fill(`Imported ${stamp}`);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'View saved.' }).waitFor();
    await page.getByText('Columns', { exact: true }).click();
    await page.getByRole('checkbox', { name: 'Industry' }).check();
    await page.getByRole('button', { name: 'Show these columns' }).click();
    await page.getByRole('columnheader', { name: 'Industry' }).waitFor();
    await page.getByRole('link', { name: 'All customers' }).click();
    await page.getByRole('link', { name: `Imported ${stamp}` }).click();
    assert.ok((await page.locator('table.list tbody tr a').allInnerTexts()).includes(`导入测试${stamp}号299`));
    await shot(page, 'list-saved-view');
    assert.deepEqual(errors, [], 'no script errors or policy violations');

    // At phone width the same list still reads, without sideways scrolling of the page.
    const phone = await person(browser, { locale: 'en', phone: true });
    await signIn(phone.page, username);
    await phone.page.goto('/customers');
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
    await shot(phone.page, 'list-phone');
  } finally {
    await browser.close();
  }
});
