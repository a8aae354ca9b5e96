// Fails early, with one line, when the scripts run on a Node.js older than the project supports.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `leaderhook needs Node.js 24 or newer (found ${process.versions.node}); run "npm install" first, it provides one`,
  );
  process.exit(1);
}
