/** A module worker that throws while it loads, before serve(). */
throw new Error('broken at load');
