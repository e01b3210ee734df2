// The checks @sigstore/verify never makes on an npm provenance statement: what was signed is an
// in-toto statement about exactly this package version and exactly these tarball bytes.
// Pure (no cryptography), so it is also unit-tested on synthetic statements.
import { invalid } from '../../core/errors.ts';
import { ALLOWED_PREDICATES, IN_TOTO_PAYLOAD_TYPE, npmPurl } from './predicates.ts';

export const IN_TOTO_STATEMENT_TYPES: readonly string[] = ['https://in-toto.io/Statement/v0.1', 'https://in-toto.io/Statement/v1'];

export interface NpmStatementExpectation {
  name: string;
  version: string;
  /** sha512 of the uploaded tarball, hex (either case) */
  sha512hex: string;
  /** default ALLOWED_PREDICATES */
  allowedPredicates?: readonly string[];
}

export interface NpmStatement {
  predicateType: string;
  subjectName: string;
  statement: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function checkNpmStatement(payloadType: string, payload: Buffer, expect: NpmStatementExpectation): NpmStatement {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw invalid('PROVENANCE_BAD_PAYLOAD_TYPE', `the signed payload type is ${JSON.stringify(payloadType.slice(0, 100))}, not ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  let statement: unknown;
  try {
    statement = JSON.parse(utf8.decode(payload));
  } catch {
    throw invalid('PROVENANCE_BAD_STATEMENT', 'the signed statement is not UTF-8 JSON');
  }
  if (!isObj(statement)) throw invalid('PROVENANCE_BAD_STATEMENT', 'the signed statement is not a JSON object');
  if (typeof statement._type !== 'string' || !IN_TOTO_STATEMENT_TYPES.includes(statement._type)) {
    throw invalid('PROVENANCE_BAD_STATEMENT', `unknown statement _type ${JSON.stringify(statement._type)?.slice(0, 100) ?? 'undefined'}`);
  }
  const predicateType = statement.predicateType;
  if (typeof predicateType !== 'string') throw invalid('PROVENANCE_BAD_STATEMENT', 'the statement has no predicateType');
  if (!(expect.allowedPredicates ?? ALLOWED_PREDICATES).includes(predicateType)) {
    throw invalid('PROVENANCE_PREDICATE_NOT_ALLOWED', `predicate type ${JSON.stringify(predicateType.slice(0, 200))} is not accepted`);
  }
  const subjects = statement.subject;
  if (!Array.isArray(subjects)) throw invalid('PROVENANCE_BAD_STATEMENT', 'the statement has no subject list');
  if (subjects.length !== 1) throw invalid('PROVENANCE_SUBJECT_COUNT', `the statement has ${subjects.length} subjects; exactly one is required`);
  const subject: unknown = subjects[0];
  if (!isObj(subject)) throw invalid('PROVENANCE_BAD_STATEMENT', 'the statement subject is not an object');
  const want = npmPurl(expect.name, expect.version);
  if (subject.name !== want) {
    throw invalid('PROVENANCE_SUBJECT_NAME_MISMATCH', `the statement is about ${JSON.stringify(subject.name)?.slice(0, 200) ?? 'nothing'}, not ${want}`);
  }
  const digest = isObj(subject.digest) ? subject.digest.sha512 : undefined;
  // Public data on both sides: a plain comparison of normalised hex is enough.
  if (typeof digest !== 'string' || !/^[0-9a-fA-F]{128}$/.test(digest) || digest.toLowerCase() !== expect.sha512hex.toLowerCase()) {
    throw invalid('PROVENANCE_DIGEST_MISMATCH', typeof digest === 'string'
      ? 'the statement subject sha512 is not the sha512 of the uploaded tarball'
      : 'the statement subject has no sha512 digest');
  }
  return { predicateType, subjectName: want, statement };
}
