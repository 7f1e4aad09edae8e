-- The demo database of docker-compose.yml. The MariaDB image runs this file once, when its
-- data volume is new, as root in MARIADB_DATABASE (shop). `make docker-clean` forgets it.
--
-- In a connector: host mariadb, port 3306, database shop, user reader, password reader.

SET NAMES utf8mb4;

CREATE TABLE customers (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    email VARCHAR(200) NOT NULL,
    country CHAR(2) NOT NULL,
    registered_on DATE NOT NULL
) DEFAULT CHARSET = utf8mb4;

CREATE TABLE products (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku VARCHAR(32) NOT NULL UNIQUE,
    title VARCHAR(200) NOT NULL,
    price DECIMAL(10, 2) NOT NULL
) DEFAULT CHARSET = utf8mb4;

CREATE TABLE orders (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id INT UNSIGNED NOT NULL,
    product_id INT UNSIGNED NOT NULL,
    quantity INT NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    ordered_at DATETIME NOT NULL,
    status VARCHAR(16) NULL,
    note TEXT NULL,
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (product_id) REFERENCES products (id)
) DEFAULT CHARSET = utf8mb4;

INSERT INTO customers (id, name, email, country, registered_on) VALUES
    (1, 'Anna Schmidt', 'anna@example.com', 'DE', '2024-01-15'),
    (2, 'Ольга Смирнова', 'olga@example.com', 'KZ', '2024-03-02'),
    (3, 'Café Crème SARL', 'orders@cafe-creme.example', 'FR', '2024-06-21'),
    (4, 'John Miller', 'john@example.com', 'US', '2025-02-10'),
    (5, 'Lena Kowalska', 'lena@example.com', 'PL', '2025-05-31');

INSERT INTO products (id, sku, title, price) VALUES
    (1, 'CRM-USER', 'CRM seat, one month', 12.50),
    (2, 'BI-PRO', 'BI Builder Pro, one year', 990.00),
    (3, 'SUPPORT', 'Priority support hour', 75.25);

INSERT INTO orders (customer_id, product_id, quantity, amount, ordered_at, status, note) VALUES
    (1, 1, 10, 125.00, '2025-01-05 09:30:00', 'WON', 'Annual renewal'),
    (1, 3, 2, 150.50, '2025-01-20 14:05:12', 'WON', NULL),
    (2, 2, 1, 990.00, '2025-02-11 11:00:00', 'WON', 'Paid by bank transfer'),
    (3, 1, 4, 50.00, '2025-03-03 16:45:00', 'LOST', 'Chose a competitor'),
    (3, 3, 1, 75.25, '2025-03-18 08:15:30', 'NEW', NULL),
    (4, 2, 2, 1980.00, '2025-04-01 12:00:00', 'WON', 'Two departments'),
    (5, 1, 25, 312.50, '2025-05-31 23:59:59', 'NEW', 'Quote sent; awaiting "yes"'),
    (5, 3, 3, 225.75, '2025-06-02 10:20:00', NULL, NULL);

-- Only reading: what Bitrix24 needs (the service's sessions are read-only in any case).
CREATE USER 'reader'@'%' IDENTIFIED BY 'reader';
GRANT SELECT ON shop.* TO 'reader'@'%';
