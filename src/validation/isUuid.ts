const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A uuid in its canonical text form (any case): user ids, impression ids. */
export const isUuid = (value: string): boolean => UUID.test(value);
