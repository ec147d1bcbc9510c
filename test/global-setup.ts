import pg from 'pg';

/**
 * `npm test` runs the store tests on PostgreSQL too whenever one answers on the usual local address, so
 * "all tests" means all tests on a developer's machine as in CI. TRACKHUB_TEST_DATABASE_URL still wins;
 * TRACKHUB_TEST_DATABASE_URL=none keeps to the embedded store.
 */
export default async function setup(): Promise<void> {
  if (process.env.TRACKHUB_TEST_DATABASE_URL === 'none') {
    delete process.env.TRACKHUB_TEST_DATABASE_URL;
    return;
  }
  if (process.env.TRACKHUB_TEST_DATABASE_URL) return;
  const url = 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('select 1');
    process.env.TRACKHUB_TEST_DATABASE_URL = url;
    console.log(`store tests also run on PostgreSQL at ${url}`);
  } catch {
    console.log('no PostgreSQL at 127.0.0.1:5432: store tests run on the embedded store only');
  } finally {
    await client.end().catch(() => {});
  }
}
