// House rules: ESLint's and typescript-eslint's recommended rules, type-checked, over the whole tree.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Prettier wraps code at 120; comments are wrapped by hand to the same width. Strings stay whole.
      'max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true },
      ],
      // node:test's describe/it/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
  ...featureBoundaries(),
);

/**
 * src/ is the product: it never imports the API double or the tests, and a feature folder imports another feature
 * only through that feature's public module; shared plumbing (kube-api, runtime, log) and config are open to all.
 */
function featureBoundaries() {
  const publicModules = { election: ['leadership.ts'], lock: ['types.ts'] };
  const features = ['candidate', 'election', 'events', 'http', 'leader-pod', 'lock', 'metrics', 'notify', 'state-file'];
  const outsideProduct = {
    group: ['**/embedded-api/**', '**/test/**'],
    message: 'src/ is the product: it never imports the API double or the tests.',
  };
  return [
    {
      files: ['src/**/*.ts'],
      rules: { 'no-restricted-imports': ['error', { patterns: [outsideProduct] }] },
    },
    ...features.map((feature) => ({
      files: [`src/${feature}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              outsideProduct,
              ...features
                .filter((other) => other !== feature)
                .map((other) => ({
                  group: [`../${other}/*`, ...(publicModules[other] ?? []).map((module) => `!../${other}/${module}`)],
                  message: publicModules[other]
                    ? `another feature's internals: from ${other}/ import only ${publicModules[other].join(', ')}.`
                    : `another feature's internals: ${other}/ is wired to this one in cli.ts, not imported.`,
                })),
            ],
          },
        ],
      },
    })),
  ];
}
