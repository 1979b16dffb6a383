/** Settings: the playground setup, its declarative schema, and its URL form. */
export * from './schema.ts';
export * from './url.ts';
