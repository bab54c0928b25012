/**
 * The deployment's embedding width: every `vector(384)` column in the migrations (listings, interests,
 * profiles). A leaf, so the seeder, the catalogue validation and the interaction embeddings share one
 * number; changing it means a migration of those columns too.
 */
export const EMBEDDING_DIMENSIONS = 384;
