// Jest globalSetup of the conformance suite: the Debian packages it needs, installed when missing.
import { ensureSystemDeps } from './system-deps.mjs';

export default function conformanceSetup() {
  ensureSystemDeps();
}
