// PM2's cluster mode, from an ecosystem file as the articles write one: "PM2 cluster mode:
// production cluster with zero-config", "pm2 reload api # Zero-downtime reload (restart workers one
// by one)". PM2 forks `instances` copies of single.js with Node's cluster module (so they share
// the port, round-robin as cluster.js's default), and replaces any that dies.
//
//   PORT=8000 CORELAB_WORKERS=2 PM2_HOME=/tmp/x pm2-runtime start servers/node/pm2.config.js
//   PM2_HOME=/tmp/x pm2 reload corelab       # the zero-downtime restart, one instance at a time
//
// `python -m servers.node pm2` runs pm2-runtime in the foreground (PM2's daemon inside it, so the
// kit owns every process) with a PM2_HOME of its own, and turns SIGHUP into `pm2 reload`.
"use strict";

const path = require("node:path");

module.exports = {
  apps: [
    {
      name: "corelab",
      script: path.join(__dirname, "single.js"),
      instances: Number(process.env.CORELAB_WORKERS) || "max", // "max": one instance per CPU core
      exec_mode: "cluster", // cluster mode: shared port
      // PM2 stops an instance with SIGINT and kills it after kill_timeout (1.6 s by default): give
      // a draining instance the time its requests need, as cluster.js does.
      kill_timeout: 12000,
      // An instance that dies within min_uptime of its start counts as unstable; after
      // max_restarts of those PM2 gives up on it (errored) instead of looping.
      min_uptime: 2000,
      max_restarts: 3,
      autorestart: true,
      env: {
        NODE_ENV: "production",
        PORT: process.env.PORT || 3000,
        HOST: process.env.HOST || "127.0.0.1",
      },
    },
  ],
};
