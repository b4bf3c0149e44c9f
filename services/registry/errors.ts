/** The registry service answers from the services' one error table. */
export { errors } from '../kit/errors.js';
