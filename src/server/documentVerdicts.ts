import type { DocumentNode } from 'graphql';
import { setBounded } from '../platform/boundedMap.js';

/**
 * Verdicts of checks that walk a parsed document, remembered per document and key (the variables a
 * verdict depends on). Apollo hands every request with the same query text the same DocumentNode from
 * its document store, so a repeated request is answered without a second walk. Documents are held
 * weakly (a document Apollo evicts takes its verdicts with it) and each keeps at most `perDocument`
 * keys, the least recently used leaving first; a key longer than MAX_KEY_LENGTH is not remembered (a
 * request with big variables is checked every time, so the memory held stays small).
 */
export interface DocumentVerdicts<V> {
  get(document: DocumentNode, key: string, compute: () => V): V;
}

const MAX_KEY_LENGTH = 1024;

export function createDocumentVerdicts<V>(perDocument: number): DocumentVerdicts<V> {
  const byDocument = new WeakMap<DocumentNode, Map<string, V>>();
  return {
    get(document, key, compute) {
      if (key.length > MAX_KEY_LENGTH) return compute();
      let verdicts = byDocument.get(document);
      if (!verdicts) {
        verdicts = new Map();
        byDocument.set(document, verdicts);
      }
      // A verdict used again becomes the newest: the least recently used leaves first.
      const verdict = verdicts.has(key) ? (verdicts.get(key) as V) : compute();
      setBounded(verdicts, key, verdict, perDocument);
      return verdict;
    },
  };
}
