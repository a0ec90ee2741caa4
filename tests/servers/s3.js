'use strict';
// The S3 server of the upload tests (tests/lib/servers.sh): s3rver on 127.0.0.1, with the test's
// own access key (s3rver's built-in S3RVER key is revoked: any other key is unknown to it and
// refused with InvalidAccessKeyId) and one bucket. It writes the port it listens on to a file.
//   node s3.js DATA_DIR PORT PORT_FILE BUCKET ACCESS_KEY_ID SECRET
// S3_TEST_DIE_AT_PART=N: the server kills itself (SIGKILL, as a crash or a power cut would) when
// the Nth part of a multipart upload arrives, having stored the parts before it: a server stopped
// in the middle of an upload, at a point the test knows.
// S3rver does not check SigV4 signatures; it does check that the access key is known, and a
// request without any signature is refused here.
const fs = require('fs');
const path = require('path');
const S3rver = require(path.join(__dirname, 'node', 'node_modules', 's3rver'));
const AWSAccount = require(path.join(__dirname, 'node', 'node_modules', 's3rver', 'lib', 'models', 'account'));

const [dir, port, portFile, bucket, keyId, secret] = process.argv.slice(2);
if (!secret) {
  console.error('usage: node s3.js DATA_DIR PORT PORT_FILE BUCKET ACCESS_KEY_ID SECRET');
  process.exit(2);
}
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(keyId, secret);

const dieAt = parseInt(process.env.S3_TEST_DIE_AT_PART || '0', 10);
const server = new S3rver({
  address: '127.0.0.1',
  port: parseInt(port, 10),
  directory: dir,
  silent: false,
  configureBuckets: [{ name: bucket }],
});
let parts = 0;
server.middleware.unshift(async (ctx, next) => {
  // A private bucket: a request that is not signed at all is refused (s3rver would serve it).
  if (!('authorization' in ctx.headers) && !('X-Amz-Algorithm' in ctx.query) && !('Signature' in ctx.query)) {
    ctx.status = 403;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
    return;
  }
  if (ctx.method === 'PUT' && 'uploadId' in ctx.query && 'partNumber' in ctx.query) {
    parts++;
    console.log(`s3.js: part ${ctx.query.partNumber} of ${ctx.path}`);
    if (dieAt > 0 && parts >= dieAt) {
      console.error(`s3.js: part ${parts} arrived: dying as S3_TEST_DIE_AT_PART=${dieAt} asks`);
      process.kill(process.pid, 'SIGKILL');
    }
  }
  return next();
});
server.run().then(({ address, port: bound }) => {
  fs.writeFileSync(portFile + '.tmp', `${bound}\n`);
  fs.renameSync(portFile + '.tmp', portFile);
  console.log(`s3.js: listening on ${address}:${bound}, bucket ${bucket}`);
}, err => {
  console.error(err);
  process.exit(1);
});
