import { expect, test } from './fixtures';
import type { Page } from './fixtures';
import { END_USER, ORG_ADMIN, RESELLER, signIn } from './helpers';

// Search messages, a message's preview and restoring one message, as an end user whose mailbox
// is real mail: dora's, at the Dovecot `cargo xtask e2e` starts, seeded into Bluebird Clinics
// with her sign-in by the server's --seed-imap-demo (xtask/src/imap.rs holds her mail), its first
// backup queued at start. Account Settings › Retention for an organisation admin.

const DORA = 'dora@bluebird-imap.example';
const PERMIT = 'Crossing permit approved';

/** Whether the page is wider than the window (something to scroll sideways). */
async function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

/** Signs in as dora and waits for her mailbox's first backup (an end user cannot Force Backup). */
async function signInAsDora(page: Page) {
  await signIn(page, DORA);
  const row = page.locator('.backups-table__row').filter({ hasText: DORA });
  await expect(row.locator('.status-badge')).toHaveText('Completed', { timeout: 60_000 });
  return row;
}

/** Searches for `words`, and reads the results again until the backup's messages are found
 * (they are searchable once indexed; the results do not follow live updates). */
async function searchFor(page: Page, words: string, expected: number) {
  await page.getByLabel('Words').fill(words);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(words);
  const hits = page.locator('.message-hit');
  await expect(async () => {
    if ((await hits.count()) !== expected) await page.reload();
    await expect(hits).toHaveCount(expected, { timeout: 3_000 });
  }).toPass({ timeout: 45_000 });
}

test('an end user finds a message in her backup, previews it, restores it, and the restore completes', async ({ page }) => {
  test.setTimeout(150_000);
  const row = await signInAsDora(page);

  // Her row leads to her messages, and to what was deleted from her mailbox.
  await expect(row.getByRole('link', { name: /^Recently deleted/ })).toHaveAttribute(
    'href',
    /\/messages\?mailbox_id=\d+&deleted=true&sort=recently_deleted$/,
  );
  await row.getByRole('link', { name: /^Search messages/ }).click();
  await expect(page.getByRole('heading', { name: 'Search messages', level: 1 })).toBeFocused();
  await expect(page).toHaveURL(/\/messages\?mailbox_id=\d+$/);
  await expect(page.getByLabel('Mailbox', { exact: true })).toHaveValue(/^\d+$/);
  // An end user sees only her own mailbox: no column names it.
  await expect(page.getByRole('columnheader', { name: 'Mailbox' })).toHaveCount(0);

  // A word of one message's body: found, the word marked in its snippet.
  await searchFor(page, 'pelican', 1);
  const hit = page.locator('.message-hit').first();
  await expect(hit.getByRole('link', { name: PERMIT })).toBeVisible();
  await expect(hit).toContainText('Harbour Council Roads');
  await expect(hit.locator('.message-hit__folder')).toHaveText('INBOX');
  await expect(hit.locator('mark')).toHaveText(/^pelican$/i);
  await expect(hit.locator('.message-deleted')).toHaveCount(0);
  await expect(hit.locator('.local-time__relative')).toHaveText(/ago$/);
  await expect(page).toHaveURL(/q=pelican/);

  // With the keyboard: tick it, untick it, open it.
  const tick = hit.getByRole('checkbox', { name: `Choose ${PERMIT}` });
  await tick.focus();
  await page.keyboard.press('Space');
  await expect(tick).toBeChecked();
  await expect(page.locator('.message-jobs__count')).toHaveText('1 message chosen');
  await page.keyboard.press('Space');
  await expect(page.locator('.message-jobs__count')).toHaveText('Tick messages to restore or download them.');
  await hit.getByRole('link', { name: PERMIT }).focus();
  await page.keyboard.press('Enter');

  // The preview: headers, the text, no attachment; the focus on its heading.
  await expect(page.getByRole('heading', { name: PERMIT, level: 1 })).toBeFocused();
  await expect(page).toHaveURL(/\/messages\/\d+$/);
  const headers = page.locator('.message-headers__list');
  await expect(headers).toContainText('roads@harbour-council.example');
  await expect(headers).toContainText(DORA);
  await expect(page.locator('.message-text__body')).toContainText('Your permit for the pelican crossing');
  await expect(page.locator('.message-body__frame')).toHaveCount(0);
  await expect(page.locator('.attachments')).toHaveCount(0);
  await expect(page.locator('.message-preview__facts')).toContainText('INBOX');

  // Fits a phone.
  await page.setViewportSize({ width: 360, height: 800 });
  expect(await overflowsSideways(page), 'a preview at 360 px').toBe(false);
  await page.setViewportSize({ width: 1280, height: 800 });

  // Restore, into the folder it was in: the form takes the focus; she may restore only into her own mailbox.
  await page.getByRole('button', { name: 'Restore…' }).click();
  const form = page.getByRole('form', { name: 'Restore 1 message' });
  await expect(form.getByRole('heading', { name: 'Restore 1 message' })).toBeFocused();
  await expect(form.getByLabel('The folders they were in')).toBeChecked();
  await expect(form.getByLabel(/^A new folder, “Restored \d{4}-\d{2}-\d{2}”$/)).not.toBeChecked();
  await expect(form).toContainText(`Into your own mailbox, ${DORA}.`);
  await expect(form.getByLabel('Another mailbox')).toHaveCount(0);
  await form.getByRole('button', { name: 'Restore 1 message' }).click();

  // The restore is said where the form was, with a link to its page in System Status.
  const started = page.locator('.created-jobs');
  await expect(started.getByRole('heading', { name: 'Started' })).toBeFocused();
  const link = started.getByRole('link', { name: /^R-[2-9A-Z]{8}$/ });
  const id = (await link.textContent())!.trim();
  await expect(started).toContainText(`Restore ${id} of ${DORA}`);
  await expect(form).toHaveCount(0);
  await link.click();
  await expect(page).toHaveURL(`/status/restores/${id}`);
  await expect(page.getByRole('heading', { name: `Restore ${id}`, level: 1 })).toBeVisible();
  await expect(page.locator('.job-page__status .status-badge')).toHaveText('Completed', { timeout: 60_000 });
  await expect(page.locator('.job-page__facts')).toContainText(DORA);

  // Listed on System Status › Restores too.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Restores', exact: true }).click();
  await expect(page.locator('.backups-table__row').filter({ hasText: id }).locator('.status-badge')).toHaveText('Completed');
});

test('a message in HTML shows in a sandboxed frame, remote images only when asked; attachments download; ticked messages download together', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await signInAsDora(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Search messages' }).click();
  await expect(page.getByRole('heading', { name: 'Search messages', level: 1 })).toBeFocused();

  // The newsletter: its HTML in a frame that runs nothing, named for screen readers.
  await searchFor(page, 'newsletter', 1);
  await page.locator('.message-hit').first().getByRole('link', { name: 'Clinic newsletter, December' }).click();
  await expect(page.getByRole('heading', { name: 'Clinic newsletter, December', level: 1 })).toBeVisible();
  const frame = page.locator('iframe.message-body__frame');
  await expect(frame).toHaveAttribute('sandbox', 'allow-popups allow-popups-to-escape-sandbox');
  await expect(frame).toHaveAttribute('title', 'Message: Clinic newsletter, December');
  await expect(frame).toHaveAttribute('src', /^\/api\/messages\/\d+\/html$/);
  await expect(page.frameLocator('iframe.message-body__frame').getByRole('heading', { name: 'Clinic newsletter, December' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Show remote images' })).toHaveCount(0);
  await expect(page.locator('.message-text__body')).toContainText('The new waiting room opens on Monday.');

  // The parcel notice loads an image from another site: not unless asked for. The way back
  // leads to the search the preview was opened from.
  await page.locator('.page-header__trail').getByRole('link', { name: 'Search messages' }).click();
  await expect(page).toHaveURL(/\/messages\?q=newsletter$/);
  await searchFor(page, 'parcel', 1);
  await page.locator('.message-hit').first().getByRole('link', { name: 'Your parcel is on its way' }).click();
  const remote = page.getByRole('button', { name: 'Show remote images' });
  await expect(remote).toHaveAttribute('aria-pressed', 'false');
  await expect(page.locator('.message-body__remote')).toContainText('They are not shown');
  await expect(page.locator('iframe.message-body__frame')).toHaveAttribute('src', /\/html$/);
  await remote.click();
  await expect(remote).toHaveAttribute('aria-pressed', 'true');
  await expect(remote).toBeFocused();
  await expect(page.locator('iframe.message-body__frame')).toHaveAttribute('src', /\/html\?images=remote$/);
  await expect(page.locator('.message-body__remote')).toContainText('Images from other sites are shown');

  // The rota's attachment: its size, and a link that downloads it from the backup.
  await page.locator('.page-header__trail').getByRole('link', { name: 'Search messages' }).click();
  await searchFor(page, 'rota', 2);
  await page.locator('.message-hit').filter({ hasText: 'Ben Okafor' }).getByRole('link', { name: 'Rota for January' }).click();
  const attachment = page.locator('.attachments__item').filter({ hasText: 'rota-january.csv' });
  await expect(attachment).toContainText('text/csv');
  await expect(attachment).toContainText(/\d+ B/);
  const href = (await attachment.getByRole('link').getAttribute('href'))!;
  expect(href).toMatch(/^\/api\/messages\/\d+\/attachments\/\d+$/);
  const file = await page.request.get(href);
  expect(file.status()).toBe(200);
  expect(await file.text()).toContain('day,name,shift');

  // Two ticked messages: one download of EML files in a zip, which completes.
  await page.goBack();
  await expect(page.locator('.message-hit')).toHaveCount(2);
  await page.getByRole('checkbox', { name: 'Choose every message on this page' }).check();
  await expect(page.locator('.message-jobs__count')).toHaveText('2 messages chosen');
  await page.getByRole('button', { name: 'Download as EML files (zip)' }).click();
  const started = page.locator('.created-jobs');
  await expect(started.getByRole('heading', { name: 'Started' })).toBeFocused();
  const link = started.getByRole('link', { name: /^D-[2-9A-Z]{8}$/ });
  const id = (await link.textContent())!.trim();
  // Done with, the messages are unticked.
  await expect(page.locator('.message-jobs__count')).toHaveText('Tick messages to restore or download them.');
  await link.click();
  await expect(page.locator('.job-page__status .status-badge')).toHaveText('Completed', { timeout: 60_000 });
  await expect(page.getByRole('link', { name: 'Download', exact: true })).toBeVisible();
  expect(id).toMatch(/^D-/);

  // The search fits a phone.
  await page.goto('/messages?q=rota');
  await expect(page.locator('.message-hit')).toHaveCount(2);
  await page.setViewportSize({ width: 360, height: 800 });
  expect(await overflowsSideways(page), 'Search messages at 360 px').toBe(false);
});

test('a restore the server refuses is named on the choice to change; the message stays ticked until one is made', async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page, RESELLER);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Search messages' }).click();
  await searchFor(page, 'pelican', 1);
  // A reseller looks after many mailboxes: each result names its own.
  await expect(page.getByRole('columnheader', { name: 'Mailbox' })).toBeVisible();
  await expect(page.locator('.message-hit__mailbox')).toHaveText(DORA);
  await page.getByRole('checkbox', { name: `Choose ${PERMIT}` }).check();
  await page.getByRole('button', { name: 'Restore…' }).click();
  const form = page.getByRole('form', { name: 'Restore 1 message' });
  await expect(form.getByLabel(`The mailbox it came from, ${DORA}`)).toBeChecked();
  await form.getByLabel('Another mailbox').check();
  const destination = form.getByLabel('Restore into (mailbox address)');
  await destination.fill('nobody@nowhere.example');
  await form.getByRole('button', { name: 'Restore 1 message' }).click();

  // Refused: the server's words on the field, which takes the focus; the refusal in full beside the panel.
  await expect(destination).toBeFocused();
  await expect(destination).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#messages-restore-destination-error')).toContainText('nobody@nowhere.example');
  const failure = page.locator('.message-jobs__failure');
  await expect(failure).toContainText(`The restore of 1 message from ${DORA} was not started:`);
  await expect(failure.locator('.error-notice__heading')).toHaveText(/^422 · /);
  await expect(failure.locator('.error-notice__request-id')).toHaveText(/^[0-9a-f]{24}$/);
  await expect(page.locator('.message-jobs__count')).toHaveText('1 message chosen');

  // Into a new folder of the mailbox it came from: made, and the refusal is gone.
  await form.getByLabel(`The mailbox it came from, ${DORA}`).check();
  await form.getByLabel(/^A new folder, “Restored \d{4}-\d{2}-\d{2}”$/).check();
  await form.getByRole('button', { name: 'Restore 1 message' }).click();
  const started = page.locator('.created-jobs');
  await expect(started.getByRole('heading', { name: 'Started' })).toBeFocused();
  await expect(failure).toHaveCount(0);
  await expect(page.locator('.message-jobs__count')).toHaveText('Tick messages to restore or download them.');
  await started.getByRole('link', { name: /^R-[2-9A-Z]{8}$/ }).click();
  await expect(page.locator('.job-page__status .status-badge')).toHaveText('Completed', { timeout: 60_000 });
});

test('an organisation admin sets how long deleted messages are kept and puts a mailbox on legal hold; an end user may not', async ({
  page,
}) => {
  await signIn(page, ORG_ADMIN);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Retention' }).click();
  await expect(page.getByRole('heading', { name: 'Retention', level: 1 })).toBeFocused();
  await expect(page.locator('.retention-figures')).toContainText('Storage used');

  // A number that is not one is named on its field, which takes the focus.
  await page.getByLabel('For a number of days').check();
  const days = page.getByRole('spinbutton', { name: 'Number of days' });
  await days.fill('0');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(days).toHaveAttribute('aria-invalid', 'true');
  await expect(days).toBeFocused();
  await days.fill('90');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved' })).toHaveText('Saved: deleted messages are kept for 90 days.');
  await expect(page.locator('.retention-figures__kept')).toHaveText('Deleted messages are kept for 90 days.');

  // Whole years read as years when read again.
  await page.getByLabel('For a number of years').check();
  await page.getByRole('spinbutton', { name: 'Number of years' }).fill('7');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved' })).toHaveText('Saved: deleted messages are kept for 7 years.');
  await page.reload();
  await expect(page.getByLabel('For a number of years')).toBeChecked();
  await expect(page.getByRole('spinbutton', { name: 'Number of years' })).toHaveValue('7');

  // The dashboard's storage names it for the organisation, and leads back here.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  const storage = page.locator('.organisation-storage__item').filter({ hasText: 'Acme Legal' });
  await expect(storage).toContainText('Deleted messages kept for 7 years.');
  await storage.getByRole('link', { name: 'Acme Legal' }).click();
  await expect(page).toHaveURL(/\/settings\/retention\?organisation=\d+$/);
  await expect(page.getByRole('heading', { name: 'Retention', level: 1 })).toBeFocused();

  // Legal hold, from the keyboard; it stands when read again.
  const hold = page.getByRole('checkbox', { name: `On legal hold (${END_USER})` });
  await expect(hold).not.toBeChecked();
  await hold.focus();
  await page.keyboard.press('Space');
  const row = page.locator('.legal-holds__row').filter({ hasText: END_USER });
  await expect(row).toHaveAttribute('data-on-hold', 'true');
  await expect(row.locator('.legal-holds__state')).toHaveText('On hold: retention removes nothing of it.');
  await expect(hold).toBeFocused();
  await page.reload();
  await expect(hold).toBeChecked();
  await hold.uncheck();
  await expect(row.locator('.legal-holds__state')).toHaveText('Not on hold.');

  // Back to keeping everything.
  await page.getByLabel('For ever (keep everything)').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved' })).toHaveText('Saved: deleted messages are kept for ever.');
  await page.setViewportSize({ width: 360, height: 800 });
  expect(await overflowsSideways(page), 'Retention at 360 px').toBe(false);
});

test('an end user is not offered Retention, and is told who may at its address', async ({ page }) => {
  await signIn(page, END_USER);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Retention' })).toHaveCount(0);
  await page.goto('/settings/retention');
  await expect(page.getByRole('heading', { name: 'Retention', level: 1 })).toBeVisible();
  await expect(page.locator('.not-allowed')).toContainText('Retention and legal hold are set only by');
  await expect(page.getByRole('button', { name: 'Save' })).toHaveCount(0);
});
