import type { KubeConfig } from '@kubernetes/client-node';
import { AnnotationLock } from './annotation-lock.ts';
import { LeaseLock } from './lease-lock.ts';
import type { Lock, LockKind } from './types.ts';

export interface LockOptions {
  kind: LockKind;
  namespace: string;
  name: string;
  /** Bounds every call; client-go uses max(1s, renewDeadline / 2). */
  requestTimeoutMs: number;
}

export function createLock(kubeConfig: KubeConfig, { kind, namespace, name, requestTimeoutMs }: LockOptions): Lock {
  return kind === 'leases'
    ? new LeaseLock(kubeConfig, namespace, name, requestTimeoutMs)
    : new AnnotationLock(kubeConfig, kind, namespace, name, requestTimeoutMs);
}
