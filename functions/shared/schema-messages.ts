/**
 * zod's English messages for `zod/mini` (the schema library of the Lambda code: tree-shakable,
 * a few tens of KB in a bundle where classic zod took ~440 KB, same JSON Schema output). Every
 * module that defines schemas imports this once for its effect and `* as z from 'zod/mini'` for
 * the schemas; never 'zod' itself, which brings all of classic zod into every bundle reaching it.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
