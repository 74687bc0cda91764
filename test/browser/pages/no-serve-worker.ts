/** A valid module worker that never calls serve(): the pool gives up after its startTimeout. */
export const nothing = 0;
