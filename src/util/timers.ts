/**
 * What timers can and cannot do.
 *
 * @module
 */

/**
 * The longest delay `setTimeout` can wait, in milliseconds (about 24.8 days): a longer one fires
 * at once, so callers treat a longer wait as none.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;
