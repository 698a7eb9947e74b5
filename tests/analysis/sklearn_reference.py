"""Reference figures from scikit-learn for the analysis tests.

Reads float32 row-major vectors and int32 labels written by the test, computes
silhouette, Davies-Bouldin, Calinski-Harabasz and the ROC AUC of all pairs
(genuine = same label, score = -distance), and prints them as JSON.

usage: sklearn_reference.py VECTORS LABELS DIMENSION METRIC
"""
import json
import sys

import numpy as np
from sklearn.metrics import (calinski_harabasz_score, davies_bouldin_score,
                             roc_auc_score, silhouette_score)
from sklearn.metrics.pairwise import pairwise_distances


def main():
    vectors_path, labels_path, dimension, metric = sys.argv[1:5]
    vectors = np.fromfile(vectors_path, dtype=np.float32).astype(np.float64)
    vectors = vectors.reshape(-1, int(dimension))
    labels = np.fromfile(labels_path, dtype=np.int32)

    # Centroid indices are Euclidean; for the cosine metric facespace computes
    # them on L2-normalised vectors.
    geometric = vectors
    if metric == "cosine":
        geometric = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    distances = pairwise_distances(vectors, metric="euclidean" if metric == "l2" else "cosine")
    np.fill_diagonal(distances, 0.0)
    upper = np.triu_indices(len(labels), k=1)
    genuine = (labels[upper[0]] == labels[upper[1]]).astype(int)
    print(json.dumps({
        "silhouette": float(silhouette_score(distances, labels, metric="precomputed")),
        "davies_bouldin": float(davies_bouldin_score(geometric, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(geometric, labels)),
        "auc": float(roc_auc_score(genuine, -distances[upper])),
    }))


if __name__ == "__main__":
    main()
