// pm2's view of the app: one process in fork mode, run in this folder (where .env and
// logs/ are). `pm2 reload` restarts it, and the new process reads .env again.
module.exports = {
  apps: [
    {
      name: 'goalgpt',
      script: 'server.js',
      cwd: __dirname,
      exec_mode: 'fork',
      instances: 1,
      autorestart: true,
      kill_timeout: 5000,
    },
  ],
};
