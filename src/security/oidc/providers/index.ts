// The providers Attestry knows. Adding one is adding a table here, nothing else.
import type { ProviderDefinition, ProviderId } from '../provider.ts';
import { buildkite } from './buildkite.ts';
import { circleci } from './circleci.ts';
import { github } from './github.ts';
import { gitlab } from './gitlab.ts';
import { google } from './google.ts';

export const PROVIDERS: Readonly<Record<ProviderId, ProviderDefinition>> = Object.freeze({
  github: github as ProviderDefinition,
  gitlab: gitlab as ProviderDefinition,
  circleci: circleci as ProviderDefinition,
  buildkite: buildkite as ProviderDefinition,
  google: google as ProviderDefinition,
});

export const isProviderId = (v: unknown): v is ProviderId => typeof v === 'string' && Object.hasOwn(PROVIDERS, v);
