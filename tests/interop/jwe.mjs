// An independent JWE implementation (the npm package `jose`) for tests/crypto/jose_interop_test.cc.
//
//   node jwe.mjs decrypt <private JWK json> <compact>
//       prints the plaintext bytes as they are
//   node jwe.mjs decrypt-json <private JWK json> <compact>
//       prints {"plaintext": <base64url>, "protectedHeader": {...}}
//   node jwe.mjs encrypt <public JWK json> <kid> <plaintext> [header json]
//       prints the compact JWE (alg ECDH-ES, enc A256GCM, kid set) sealing the UTF-8 plaintext;
//       members of `header json` are added to the protected header, except "apu" and "apv"
//       (base64url), which become the key agreement's PartyUInfo / PartyVInfo.
//
// Exit status 0 on success; 1 with the reason on stderr otherwise; 2 on a usage error.
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { CompactEncrypt, compactDecrypt, importJWK } from 'jose';

const profile = {
  keyManagementAlgorithms: ['ECDH-ES'],
  contentEncryptionAlgorithms: ['A256GCM'],
};

async function decrypt(jwkJson, compact) {
  const key = await importJWK(JSON.parse(jwkJson), 'ECDH-ES');
  return compactDecrypt(compact, key, profile);
}

async function encrypt(jwkJson, kid, plaintext, headerJson) {
  const key = await importJWK(JSON.parse(jwkJson), 'ECDH-ES');
  const { apu, apv, ...extra } = headerJson ? JSON.parse(headerJson) : {};
  const jwe = new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader({
    ...extra,
    alg: 'ECDH-ES',
    enc: 'A256GCM',
    kid,
  });
  if (apu !== undefined || apv !== undefined) {
    jwe.setKeyManagementParameters({
      apu: apu === undefined ? undefined : Buffer.from(apu, 'base64url'),
      apv: apv === undefined ? undefined : Buffer.from(apv, 'base64url'),
    });
  }
  return jwe.encrypt(key);
}

async function main(argv) {
  const [command, ...args] = argv;
  if ((command === 'decrypt' || command === 'decrypt-json') && args.length === 2) {
    const { plaintext, protectedHeader } = await decrypt(args[0], args[1]);
    if (command === 'decrypt') {
      process.stdout.write(plaintext);
    } else {
      const plaintextB64u = Buffer.from(plaintext).toString('base64url');
      process.stdout.write(JSON.stringify({ plaintext: plaintextB64u, protectedHeader }));
    }
    return 0;
  }
  if (command === 'encrypt' && (args.length === 3 || args.length === 4)) {
    process.stdout.write(await encrypt(args[0], args[1], args[2], args[3]));
    return 0;
  }
  process.stderr.write(
    'usage: node jwe.mjs decrypt|decrypt-json <private JWK> <compact>\n' +
      '       node jwe.mjs encrypt <public JWK> <kid> <plaintext> [header json]\n',
  );
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`jwe.mjs: ${err.code ?? err.name}: ${err.message}\n`);
    process.exitCode = 1;
  },
);
