export { OperatorTlsError } from "./operator-tls-error.js";
export { createOperatorCa, loadOperatorCa, writeOperatorCa, type OperatorCaOptions, type PemPair } from "./operator-ca.js";
export { issueOperatorCert, writeOperatorCert, type OperatorCertOptions } from "./operator-cert.js";
export { loadTlsDir, type OperatorTls } from "./tls-dir.js";
export { CA_KEY_FILE, TLS_FILES, tlsPaths } from "./tls-files.js";
