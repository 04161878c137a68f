'use strict';
// The runbook's backend in small, run under real pm2 by tests/e2e/test_pm2.py. At start it
// reads .env, says its stagger state, then runs four jobs through a node-postgres pool,
// logging with winston to logs/combined.log what the runbook greps for.
//
// The runbook's minute is compressed to a 4-second cycle: its :00/:15/:30/:45 offsets are
// seconds 0/1/2/3 of the cycle, so both schedules show within seconds.

const dotenv = require('dotenv');
const { Pool } = require('pg');
const winston = require('winston');

dotenv.config({ path: '.env', quiet: true });

const CYCLE_S = 4;
const SLOW_QUERY_MS = 100;
const POOL_MAX = 4;
// The advisory lock both referral processors take: at :00 together, one of them skips.
const REFERRAL_LOCK = 424242;

const JOBS = [
  { key: 'REFERRAL_TIER2', name: 'Referral Tier 2 Processor', offset: 0, lock: REFERRAL_LOCK },
  { key: 'REFERRAL_TIER3', name: 'Referral Tier 3 Processor', offset: 1, lock: REFERRAL_LOCK },
  // The first run and every other one read a table that does not exist: a real database
  // error, a failed job (each process fails its first run, however short its life).
  {
    key: 'SCHEDULED_NOTIFICATIONS', name: 'Scheduled Notifications', offset: 2,
    failing: 'SELECT pg_sleep(0.05) FROM notification_queue',
  },
  { key: 'LIVE_STATS_SYNC', name: 'Live Stats Sync', offset: 3, sql: 'SELECT pg_sleep(0.15)' },
];

const logger = winston.createLogger({
  level: 'info',
  format: winston.format.combine(
    // The zone is written out, so the bot reads the right instant whatever TZ the host has.
    winston.format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss.SSSZ' }),
    winston.format.printf(({ timestamp, level, message }) => `${timestamp} ${level}: ${message}`),
  ),
  transports: [
    new winston.transports.File({ filename: 'logs/combined.log' }),
    new winston.transports.File({ filename: 'logs/error.log', level: 'error' }),
  ],
});

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: POOL_MAX });
pool.on('error', (error) => logger.error(`[DB] idle client error: ${error.message}`));

const staggerOn = process.env.JOB_STAGGER_ENABLED === 'true';
const jobOff = (job) => process.env[`JOB_STAGGER_${job.key}`] === '0';
const startSecond = (job) => (staggerOn && !jobOff(job) ? job.offset : 0);

logger.info(`${staggerOn ? '▶️ Job stagger enabled' : '⏸️ Job stagger disabled'} (pid ${process.pid})`);
for (const job of JOBS.filter(jobOff)) {
  logger.info(
    `⏸️ Job stagger off for ${job.name} (JOB_STAGGER_${job.key}=0, pid ${process.pid}): runs at :00`,
  );
}

const runs = new Map();
let running = 0;

async function runJob(job) {
  const run = (runs.get(job.key) || 0) + 1;
  runs.set(job.key, run);
  running += 1;
  let client = null;
  try {
    client = await pool.connect();
    if (job.lock !== undefined) {
      const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS got', [job.lock]);
      if (!rows[0].got) {
        logger.warn(`⏭️ ${job.name}: skipped_lock (the referral lock is held)`);
        return;
      }
    }
    const started = Date.now();
    logger.info(`🔄 Job started: ${job.name}`);
    try {
      const sql = job.failing && run % 2 === 1 ? job.failing : job.sql || 'SELECT pg_sleep(0.05)';
      await client.query(sql);
      const took = Date.now() - started;
      if (took > SLOW_QUERY_MS) logger.warn(`[DB] Slow query (${took} ms): ${sql}`);
      logger.info(`✅ Job completed: ${job.name} (${took} ms)`);
    } catch (error) {
      logger.error(`❌ Job failed: ${job.name} - ${error.message}`);
    } finally {
      if (job.lock !== undefined) await client.query('SELECT pg_advisory_unlock($1)', [job.lock]);
    }
  } finally {
    if (client) client.release();
    running -= 1;
  }
}

function samplePool() {
  const used = pool.totalCount - pool.idleCount;
  logger.info(
    `[PoolMonitor] utilization ${Math.round((used / POOL_MAX) * 100)}% ` +
      `(${used}/${POOL_MAX} in use, ${pool.waitingCount} waiting)`,
  );
}

let timer = null;
// The second the app started in is left alone: a restart never runs a job twice in it.
let lastSecond = Math.floor(Date.now() / 1000);

// Each wall-clock second once: a timer that fires a little early waits for the second.
function tick() {
  const second = Math.floor(Date.now() / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    const due = JOBS.filter((job) => second % CYCLE_S === startSecond(job));
    for (const job of due) {
      runJob(job).catch((error) => logger.error(`❌ Job failed: ${job.name} - ${error.message}`));
    }
    if (due.length > 0) setTimeout(samplePool, 25);
  }
  timer = setTimeout(tick, 1000 - (Date.now() % 1000));
}

timer = setTimeout(tick, 1000 - (Date.now() % 1000));

// pm2 stops the app with SIGINT on reload and stop: finish the running jobs, close the pool
// and let winston write out what it holds before exiting.
process.on('SIGINT', () => {
  clearTimeout(timer);
  const finish = () => {
    if (running > 0) return setTimeout(finish, 10);
    pool.end().finally(() => {
      logger.on('finish', () => process.exit(0));
      logger.end();
    });
  };
  finish();
});
